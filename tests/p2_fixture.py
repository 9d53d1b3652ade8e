"""The P2 script example of LAW.md section 7 (cosine and constant runs, 2e-4 peak)."""

import numpy as np

COSINE = [3.6696358, 3.3254106, 3.1908393, 3.1158533, 3.0604768, 3.020384, 2.9880967, 2.9612265, 2.9395165,
          2.9195616, 2.9030452, 2.8881907, 2.8767889, 2.8654318, 2.8565135, 2.8489892, 2.843639, 2.8398669,
          2.8380618, 2.8376071]
CONSTANT = [3.6714418, 3.325626, 3.1884103, 3.111947, 3.058354, 3.0211415, 2.9874816, 2.96082, 2.9406552,
            2.9241402, 2.9054413, 2.8942103, 2.8807929, 2.8702695, 2.862175, 2.8530996, 2.8448784, 2.8383856,
            2.8326995, 2.8294308]


def learning_rates():
    s = np.arange(20001)
    cosine = np.where(s <= 500, 2e-4, 0.5 * 2e-4 * (1 + np.cos(np.pi * (s - 500) / 19500)))
    constant = np.full(20001, 2e-4)
    return cosine, constant


def features_and_loss(areas):
    """Features for the annealing law; `areas` is cptlaw.areas or cptlaw.reference.areas."""
    cosine, constant = learning_rates()
    steps = np.arange(1000, 20001, 1000)  # S1, S2 over steps 0..s inclusive
    a1, a2 = areas(cosine), areas(constant)
    s1 = np.concatenate([np.asarray(a1[0])[steps], np.asarray(a2[0])[steps]])
    s2 = np.concatenate([np.asarray(a1[1])[steps], np.asarray(a2[1])[steps]])
    return {"s1": s1, "s2": s2}, np.array(COSINE + CONSTANT)
