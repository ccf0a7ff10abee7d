"""Helpers over sweep results for notebooks and plots."""

from __future__ import annotations

import numpy as np


def pareto_front(df, x: str, y: str, maximize_x: bool = True, maximize_y: bool = False):
    """The rows of `df` no other row beats on both `x` and `y`, sorted by `x`.

    Default directions suit tokens/s (more is better) against J/token (less is better).
    Rows with NaN in either column are left out.
    """
    d = df[np.isfinite(df[x].astype(float)) & np.isfinite(df[y].astype(float))]
    sx = d[x].to_numpy(float) * (1 if maximize_x else -1)
    sy = d[y].to_numpy(float) * (1 if maximize_y else -1)
    order = np.lexsort((-sy, -sx))   # best x first, ties broken by best y
    keep, best_y, best_x = [], -np.inf, np.nan
    for i in order:
        if sy[i] > best_y or (sy[i] == best_y and sx[i] == best_x):   # a tie is not beaten
            keep.append(i)
            best_y, best_x = sy[i], sx[i]
    return d.iloc[keep].sort_values(x).reset_index(drop=True) if keep else d.iloc[[]]
