"""The compiled core never aborts, hangs or answers silently wrong.

Threads: one reused pool; a thread that cannot be started (a capped address space) does not
abort the process and does not change any result; absurd thread counts are refused with
the argument named; no more threads than pieces of work; fork() and interpreter shutdown.
Interrupts: Ctrl-C (SIGINT) stops every long call, with the grid's finished rows kept.
Size limits: work that cannot fit in memory is refused up front, naming the argument.
Everything that could crash runs in a subprocess, so a crash fails the test instead of
ending the suite. No assertion depends on timing: a subprocess gets a generous bound and
the assertion is that it stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cptlaw
from cptlaw import _core
from cptlaw import schedules as S

LINUX = sys.platform.startswith("linux")


def _env(**extra):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_py(code, timeout=300, **env):
    """Run `code` in a fresh interpreter; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=_env(**env), capture_output=True,
                          text=True, timeout=timeout)


# ----------------------------------------------------------------------------- thread counts
def test_set_num_threads_refuses_absurd_counts():
    with pytest.raises(ValueError, match=r"^n: at most 1024"):
        cptlaw.set_num_threads(2**40)
    with pytest.raises(ValueError, match=r"^n: "):
        cptlaw.set_num_threads(-1)
    assert cptlaw.get_num_threads() >= 1  # unchanged, still usable
    try:
        cptlaw.set_num_threads(1024)  # the cap itself is accepted
        assert cptlaw.get_num_threads() == 1024
        np.testing.assert_array_equal(cptlaw.areas([1.0, 2.0, 0.5]).s1, [1.0, 3.0, 3.5])
    finally:
        cptlaw.set_num_threads(0)


@pytest.mark.parametrize("value", ["100000", "0", "-3", "many"])
def test_bad_env_thread_count_is_a_clear_error_not_an_abort(value):
    r = run_py("""
        import cptlaw
        try:
            cptlaw.areas([1.0, 2.0])
        except ValueError as e:
            print("ValueError:", e)
    """, timeout=120, CPTLAW_NUM_THREADS=value)
    assert r.returncode == 0, r.stderr
    assert "ValueError: CPTLAW_NUM_THREADS:" in r.stdout


def test_no_more_threads_than_pieces_of_work():
    r = run_py("""
        import numpy as np, cptlaw
        from cptlaw import _core, schedules as S
        cptlaw.set_num_threads(64)
        law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
        # a 4-row grid: at most 4 pieces of work
        df = cptlaw.grid(law, pt=S.wsd(2e-4, 3000, decay_steps=500), cpt=dict(shape="cosine",
                         peak_lr=[1e-4, 2e-4], steps=[100, 200]))
        assert len(df) == 4
        print("grid", _core.pool_workers())
        law(s1_pt=np.ones(3 * 65536), s2_pt=0.1, s1_cpt=0.5, s2_cpt=0.1)  # 3 pieces of 65536 points
        print("law", _core.pool_workers())
    """, timeout=120)
    assert r.returncode == 0, r.stderr
    got = dict(line.split() for line in r.stdout.splitlines() if line)
    assert int(got["grid"]) <= 3
    assert int(got["law"]) <= 3


_SAME_RESULTS = """
    import hashlib
    import numpy as np, cptlaw
    from cptlaw import schedules as S
    rng = np.random.default_rng(0)
    lr = rng.uniform(0.0, 1e-3, (64, 3000))
    law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
    x = dict(s1_pt=rng.uniform(0.1, 5, 1 << 20), s2_pt=0.1, s1_cpt=rng.uniform(0, 5, 1 << 20), s2_cpt=0.2)
    s1, s2 = np.empty_like(lr), np.empty_like(lr)
    out = np.empty(1 << 20)
    s1c, s2c = rng.uniform(1, 10, (32, 60)), rng.uniform(0, 1, (32, 60))
    y = 3 + 0.5 * s1c ** -0.5 - 0.1 * s2c
    pt = S.wsd(2e-4, 3000, decay_steps=500)
    cpt = dict(shape="wsd", peak_lr=np.linspace(1e-5, 3e-4, 40), steps=[400, 800], decay_frac=0.3,
               decay_type="1-sqrt")

    def digest(arrays):  # hashes the buffers in place: comparing allocates nothing large
        return [hashlib.sha256(memoryview(np.ascontiguousarray(a))).hexdigest() for a in arrays]

    def run_all():
        cptlaw.areas(lr, out=(s1, s2))
        got = digest([s1, s2])
        got += digest(cptlaw.cpt_areas(lr[:16, :2000], lr[:16, 2000:]))
        law(**x, out=out)
        got += digest([out])
        fm = cptlaw.fit_many(cptlaw.AnnealingLaw, dict(s1=s1c, s2=s2c), y)
        got += digest([fm.params, fm.status])
        df = cptlaw.grid(law, pt=pt, cpt=cpt, steps=[1, 100, 400])
        best = cptlaw.grid(law, pt=pt, cpt=cpt, reduce="min", k=3, group_by="cpt_steps")
        return got + digest([df["loss"].to_numpy(), best["loss"].to_numpy()])

    cptlaw.set_num_threads(1)
    want = run_all()
"""


@pytest.mark.skipif(not LINUX, reason="caps the address space with RLIMIT_AS and reads /proc")
def test_threads_that_cannot_start_change_nothing():
    """Address space capped just above what the process uses: a thread's stack (8 MiB)
    fits only a few times, so thread starts fail part-way (the case that aborted)."""
    r = run_py(_SAME_RESULTS + """
    import re, resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (40 << 20), hard))
    for n in (2, 4, 16, 64):
        cptlaw.set_num_threads(n)
        assert run_all() == want, n
    workers = cptlaw._core.pool_workers()
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    print("same", workers)
    """, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout.split()
    assert out[0] == "same"
    # The law call alone wants 15 helpers: fewer started, so starts did fail under the cap.
    assert int(out[1]) < 15


def test_results_do_not_depend_on_the_thread_count():
    r = run_py(_SAME_RESULTS + """
    for n in (2, 3, 8):
        cptlaw.set_num_threads(n)
        assert run_all() == want, n
    print("same")
    """, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "same"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_pool_survives_fork():
    """A pool started before fork() (as under Dask/multiprocessing with fork) works in the child."""
    r = run_py("""
        import os, multiprocessing as mp
        import numpy as np, cptlaw
        cptlaw.set_num_threads(4)
        lr = np.random.default_rng(0).uniform(0, 1e-3, (64, 5000))
        want = cptlaw.areas(lr)
        assert cptlaw._core.pool_workers() > 0

        def child(_):
            got = cptlaw.areas(lr)
            return bool(np.array_equal(got.s1, want.s1) and np.array_equal(got.s2, want.s2))

        pid = os.fork()
        if pid == 0:
            os._exit(0 if child(0) else 3)
        _, status = os.waitpid(pid, 0)
        print("fork", os.waitstatus_to_exitcode(status))
        with mp.get_context("fork").Pool(2) as pool:
            print("pool", all(pool.map(child, range(4))))
        print("parent", child(0))
    """, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["fork", "0", "pool", "True", "parent", "True"]


def test_exit_while_a_daemon_thread_runs_the_core():
    """Interpreter shutdown with a long core call still running in a daemon thread: the
    process exits cleanly instead of hanging or crashing."""
    r = run_py("""
        import threading, time
        import numpy as np, cptlaw
        s1 = np.linspace(1, 10, 400); s2 = np.linspace(0, 1, 400)
        y = 3 + 0.5 * s1 ** -0.5 - 0.1 * s2
        grid = np.tile([3.0, 0.5, 0.5, 0.1], (200000, 1)); grid[:, 2] = np.linspace(0.05, 2, 200000)
        started = threading.Event()

        def work():
            started.set()
            cptlaw.fit_many(cptlaw.AnnealingLaw, dict(s1=np.tile(s1, (64, 1)), s2=np.tile(s2, (64, 1))),
                            np.tile(y, (64, 1)), grid=grid)

        threading.Thread(target=work, daemon=True).start()
        started.wait()
        time.sleep(0.3)
        print("exiting")
    """, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "exiting"


# ----------------------------------------------------------------------------- interrupts
def _interrupted(setup, call, check="", timeout=60, entry=None):
    """Run `call` in a subprocess, send SIGINT once it is under way; it must stop (raise
    KeyboardInterrupt) within `timeout` seconds. Returns the child's stdout.

    `entry`: the compiled function the long part runs in. The child then says when it enters
    it, and SIGINT waits for that: the Python before it (building a 100000-value grid) takes
    ~1 s on a loaded machine, and a KeyboardInterrupt there is not the one tested."""
    announce = "" if entry is None else textwrap.dedent(f"""
        from cptlaw import _core as _announced_core
        _real_entry = _announced_core.{entry}

        def _announce(*args, **kwargs):
            print("entered", flush=True)
            return _real_entry(*args, **kwargs)

        _announced_core.{entry} = _announce
    """)
    # A suite started in the background (nohup, `&`, some CI runners) hands its children SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: the child restores it.
    restore = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    code = restore + textwrap.dedent(setup) + announce + textwrap.dedent(f"""
        import sys, time
        try:
            print("started", flush=True)
{textwrap.indent(textwrap.dedent(call), " " * 12)}
            print("finished", flush=True)
        except KeyboardInterrupt as exc:
            print("interrupted", type(exc).__name__, flush=True)
{textwrap.indent(textwrap.dedent(check), " " * 12)}
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()  # imports and setup done
        assert line.strip() == "started", proc.stderr.read()
        if entry is not None:
            line = proc.stdout.readline()
            assert line.strip() == "entered", line + proc.stderr.read()
        try:
            proc.wait(1.0 if entry is None else 0.5)  # let the call get (further) into the core
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"still running {timeout} s after SIGINT")
    assert "interrupted" in out, out + err[-3000:]
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_closed_form_areas_of_a_huge_1_sqrt_decay():
    _interrupted("""
        from cptlaw import schedules as S
        s = S.wsd(2e-4, 10**12, decay_steps=10**11, decay="1-sqrt")
    """, "s.areas([10**12 - 1])", entry="schedule_areas")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_a_huge_grid():
    out = _interrupted("""
        import cptlaw
        from cptlaw import schedules as S
        law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
        pt = S.wsd(2e-4, 3000, decay_steps=500)
    """, """
        cptlaw.grid(law, pt=pt, cpt=dict(shape="wsd", peak_lr=[1e-4, 2e-4], steps=10**13, decay_frac=0.1,
                                         decay_type="1-sqrt"))
    """, entry="grid_materialize")
    assert "GridInterrupted" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_in_a_one_chunk_grid_keeps_the_finished_rows():
    out = _interrupted("""
        import numpy as np, cptlaw
        from cptlaw import schedules as S
        law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
        pt = S.wsd(2e-4, 3000, decay_steps=500)
        peaks = np.linspace(1e-5, 3e-4, 100000)
        cpt = dict(shape="wsd", peak_lr=peaks, steps=10**6, decay_frac=0.5, decay_type="1-sqrt")
    """, """
        cptlaw.grid(law, pt=pt, cpt=cpt, chunk_size=10**9)
    """, check="""
        part = exc.partial
        print("rows", exc.rows_done, len(part), exc.rows_total)
        assert exc.rows_done == len(part) < exc.rows_total and not part.attrs["complete"]
        if len(part):  # the rows kept are exact: recompute a few of them
            few = part.iloc[:: max(1, len(part) // 4)]
            again = cptlaw.grid(law, pt=pt, cpt=dict(cpt, peak_lr=list(few["cpt_peak_lr"])))
            assert np.array_equal(again["loss"].to_numpy(), few["loss"].to_numpy())
        print("checked")
    """, entry="grid_materialize")
    assert "GridInterrupted" in out and "checked" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_fit_many_and_a_long_fit():
    setup = """
        import numpy as np, cptlaw
        s1 = np.linspace(1, 10, 100); s2 = np.linspace(0, 1, 100)
        y = 3 + 0.5 * s1 ** -0.5 - 0.1 * s2
        grid = np.tile([3.0, 0.5, 0.5, 0.1], (20000, 1)); grid[:, 2] = np.linspace(0.05, 2, 20000)
    """
    _interrupted(setup, """
        cptlaw.fit_many(cptlaw.AnnealingLaw, dict(s1=np.tile(s1, (20000, 1)), s2=np.tile(s2, (20000, 1))),
                        np.tile(y, (20000, 1)), grid=grid)
    """)
    _interrupted(setup, """
        big = np.linspace(1, 10, 10**6)
        cptlaw.fit(cptlaw.AnnealingLaw, dict(s1=big, s2=big / 10), 3 + 0.5 * big ** -0.5 - 0.01 * big, grid=grid)
    """)


# ----------------------------------------------------------------------------- size limits
def test_materialising_huge_schedules_is_refused_up_front():
    s = S.constant(1e-4, 10**12)
    with pytest.raises(ValueError, match=r"^values: .*1e\+12"):
        s.values()
    with pytest.raises(ValueError, match=r"^steps: "):
        s.areas()
    with pytest.raises(ValueError, match=r"^as_lambda: "):
        s.as_lambda()
    with pytest.raises(ValueError, match=r"^steps: "):
        S.cpt_areas_at(s, S.constant(1e-4, 10))
    with pytest.raises(ValueError, match=r"^steps: "):
        S.batch_areas([s, s])
    with pytest.raises(ValueError, match=r"^warmup_as_peak: "):
        s.areas([0, 5], warmup_as_peak=True)
    # What needs no per-step array still works, in O(1) per step.
    big = S.wsd(2e-4, 10**12, decay_steps=10**11, warmup=1000)
    s1, s2 = big.areas([0, 10**12 - 1], warmup_as_peak=500)
    assert np.isfinite(s1).all() and np.isfinite(s2).all()
    assert big[10**6:].steps == 10**12 - 10**6  # slicing no longer materialises
    with pytest.raises(ValueError, match=r"^steps: .*2\*\*53"):
        S.constant(1e-4, 2**60)


def test_huge_grid_without_reduce_is_refused_up_front():
    law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
    cpt = dict(shape="cosine", peak_lr=np.linspace(1e-5, 1e-4, 10**4), steps=list(range(1, 10**4 + 1)))
    with pytest.raises(ValueError, match=r"^reduce: "):
        cptlaw.grid(law, pt=S.constant(1e-4, 100), cpt=cpt, steps=np.arange(10**4))


@pytest.mark.parametrize("key", ["warmup", "steps"])
@pytest.mark.parametrize("value", [2**63, 2**64 + 5, 10.0**21])
def test_grid_integers_that_do_not_fit_are_refused(key, value):
    law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
    cpt = dict(shape="cosine", peak_lr=1e-4, steps=1000, warmup=10)
    cpt[key] = value
    with pytest.raises(ValueError, match=rf"^cpt\['{key}'\]: "):
        cptlaw.grid(law, pt=S.constant(1e-4, 100), cpt=cpt)


@pytest.mark.parametrize("steps", [[2**63], [0, 2**64], [1e30], np.array([2**62], dtype=np.uint64)])
def test_grid_evaluation_steps_that_do_not_fit_are_refused(steps):
    law = cptlaw.CPTLaw(3.0, 0.45, 0.5, 0.3, 0.3, -0.5, 300.0, 0.2)
    with pytest.raises(ValueError, match=r"^steps: "):
        cptlaw.grid(law, pt=S.constant(1e-4, 100), cpt=dict(shape="cosine", peak_lr=1e-4, steps=10), steps=steps)


# ----------------------------------------------------------------------------- the core's interface
def test_constants_come_from_the_core():
    import importlib

    areas, fit, grid = (importlib.import_module(f"cptlaw.{m}") for m in ("areas", "fit", "grid"))
    assert areas.SPLITS == tuple(_core.splits)
    assert fit.STATUS_MESSAGES == dict(_core.fit_statuses)
    assert list(fit.OBJECTIVES) == list(_core.fit_objectives)
    assert grid.SHAPES == tuple(_core.grid_shapes) and grid.DECAY_TYPES == tuple(_core.grid_decay_types)
    assert sorted(_core.grid_axes.values()) == list(range(_core.grid_n_axes))
    assert sorted(_core.schedule_shapes.values()) == list(range(len(_core.schedule_shapes)))
    assert S._CONSTANT == _core.schedule_shapes["constant"] and S._ARRAY == _core.schedule_shapes["array"]


def test_transfer_rule_per_split_mode():
    t = {name: _core.cpt_transfer(split=code, momentum_pt=0.25, lr_pt=1e-4) for code, name in enumerate(_core.splits)}
    assert t["by_source"] == dict(momentum_cpt=0.0, prev_lr=1e-4, s2_cpt=0.0, pt_continues=True, momentum_pt=0.25)
    assert t["by_time"] == dict(momentum_cpt=0.25, prev_lr=1e-4, s2_cpt=0.0, pt_continues=False, momentum_pt=0.0)
    assert t["restart"] == dict(momentum_cpt=0.0, prev_lr=1e-4, s2_cpt=0.0, pt_continues=False, momentum_pt=0.0)
    # by_time's S2_cpt is S2(t) - S2(T-1): it inherits a NaN or infinite S2_pt
    assert np.isnan(_core.cpt_transfer(split=1, momentum_pt=0.0, lr_pt=0.0, s2_pt=np.inf)["s2_cpt"])
    assert _core.cpt_transfer(split=0, momentum_pt=0.0, lr_pt=0.0, s2_pt=np.nan)["s2_cpt"] == 0.0


def test_bindings_take_keyword_arguments():
    lr = np.array([[1e-3, 5e-4, 2e-4]])
    s1, s2 = _core.areas(lr=lr, decay=0.9, warmup_as_peak=0, s2_lr_exponent=float("nan"), threads=1)
    np.testing.assert_allclose(s1[0], np.cumsum(lr[0]))
    law = cptlaw.AnnealingLaw(3.0, 0.5, 0.5, 0.1)
    v = _core.law_eval["annealing"](params=law.param_vector, inputs=[np.array([2.0]), np.array([0.5])], n=1,
                                    with_grad=False, threads=1)
    assert v[0] == pytest.approx(law(s1=2.0, s2=0.5))
    s1 = np.linspace(1, 10, 30)
    y = law(s1=s1, s2=s1 / 10)
    x, obj, status, *_ = _core.fit_one["annealing"](
        inputs=[s1, s1 / 10], y=y, w=None, lo=np.zeros(4), hi=np.full(4, np.inf), fixed=np.zeros(4, np.uint8),
        linear=np.array([1, 1, 0, 1], np.uint8), starts=law.param_vector[None], grid=np.zeros((0, 4)), objective=1,
        delta=1e-3, max_iter=50, ftol=1e-12, xtol=1e-12, gtol=1e-12, keep=1)
    assert status > 0 and x == pytest.approx(law.param_vector)


@pytest.mark.parametrize("warm", [2**62, 2**63, 2**70])
def test_huge_warmup_as_peak_means_every_step(warm):
    lr = [1e-3, 2e-3, 1e-3]
    np.testing.assert_array_equal(cptlaw.areas(lr, warmup_as_peak=warm).s1, cptlaw.areas(lr, warmup_as_peak=3).s1)
    a = cptlaw.cpt_areas(lr, [1e-4], warmup_as_peak=warm)
    np.testing.assert_array_equal(a.s2_cpt, cptlaw.cpt_areas(lr, [1e-4], warmup_as_peak=3).s2_cpt)
