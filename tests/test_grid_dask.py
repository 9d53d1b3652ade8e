"""cptlaw.grid on a Dask cluster: the same call with client= gives the local results exactly.

Starts a LocalCluster with 2 worker processes (1 thread each); skipped when dask.distributed
is not installed (pip install cptlaw[dask]).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import cptlaw

distributed = pytest.importorskip("dask.distributed")
pd = pytest.importorskip("pandas")
grid = importlib.import_module("cptlaw.grid").grid

LAW_PT = cptlaw.CPTLaw(3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28, 0.189)
LAW_CPT = cptlaw.CPTLaw(3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662, 0.146)
LAWS = {"pt": LAW_PT, "cpt": LAW_CPT}
KW = dict(
    pt={"annealed": cptlaw.schedules.wsd(2e-4, 3000, 600, 100),
        "mid-decay": cptlaw.schedules.wsd(2e-4, 3000, 600, 100)[:2700]},
    cpt=[dict(shape=["cosine", "wsd"], peak_lr=np.geomspace(2.5e-5, 4e-4, 7), steps=[200, 800], warmup=[0, 40],
              start_lr=[None, "pt"], decay_frac=[0.1, 0.3], decay_type=["linear", "1-sqrt"]),
         dict(shape="constant", peak_lr=[1e-4, 2e-4], steps=500)],
    w=[0.25, 0.75],
    steps=[0, 100, 200, 800],
)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


def test_dask_rows_identical(client):
    local = grid(LAWS, **KW)
    with distributed.get_task_stream(client) as ts:
        remote = grid(LAWS, **KW, chunk_size=1000, client=client)
    pd.testing.assert_frame_equal(remote, local)
    assert remote.attrs["complete"]
    chunks = -(-len(local) // 1000) + 1  # upper bound: chunks are whole schedules
    assert 2 <= len([t for t in ts.data if "run_chunk" in t["key"]]) <= chunks


def test_dask_reductions_identical(client):
    for kw in (dict(reduce="min", k=7), dict(reduce="min", group_by=["w", "cpt_steps"], k=2),
               dict(reduce="max", objective="loss_pt", group_by="pt")):
        local = grid(LAWS, **KW, **kw)
        remote = grid(LAWS, **KW, **kw, chunk_size=500, client=client)
        pd.testing.assert_frame_equal(remote, local)
