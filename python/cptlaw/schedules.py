"""Parametric learning-rate schedules (placeholder until the schedule core lands)."""
