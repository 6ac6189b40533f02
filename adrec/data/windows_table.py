"""Behaviour windows of many users at once, vectorised (no Ray): the table the scalable
pipeline writes, and the computation its single-process baselines run.

    interaction_windows(log, window, sig, stride, steps=True) -> WindowArrays

`log` holds whole users, each user's rows contiguous and in time order (the tie rule of
adrec.data.interactions already applied): `bounds` (row offsets of the users), `item` (dense
item indices), `time` (unix s), `value` and `action` (or None). The points are those of
adrec.detectors.behaviour.scoring.scoring_points: per user of n rows, the history before every
`stride`-th interaction (predicting it) and the whole history at the time of the last one;
points whose history is shorter than the window's min_history have no window and are left
out. Each window is the InteractionWindow's summary vector (`features`, as window.features)
and its steps (`steps`, as window.steps), float32, equal to window_rows' to float32 rounding
(tested): shares, counts, medians and quantiles are the same arithmetic; means of values come
from per-user running sums instead of NumPy's pairwise sums.

Every user is computed on its own (per-user running sums in a padded [users, rows] block),
so a user's windows do not depend on which other users share the call: a shard of users and
the whole log give bit-identical rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adrec.detectors.behaviour.windows import N_HOUR_BUCKETS, InteractionWindow, Signals

_DAY = 86_400.0
_HOUR = 3_600.0
CELLS = 1 << 21  # padded cells per block of users (memory: a few columns of this size)


@dataclass
class WindowArrays:
    """One row per window: `row` the user's first row in the log (the caller maps it to the
    user id), `end` the number of the user's interactions in the history, `time` the
    prediction time, `window_start` the time of the window's first interaction."""

    row: np.ndarray
    end: np.ndarray
    time: np.ndarray
    window_start: np.ndarray
    features: np.ndarray  # [n, n_features] float32
    steps: np.ndarray | None  # [n, size, n_step_features] float32

    def __len__(self) -> int:
        return len(self.row)


def scoring_ends(n: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(user position, end) of every scoring point of users with `n` rows each: ends
    stride, 2 * stride, ... below n, then n (scoring_points' order)."""
    n = np.asarray(n, np.int64)
    k = np.where(n > 0, (n - 1) // stride + 1, 0)  # multiples of stride below n, plus n
    user = np.repeat(np.arange(len(n)), k)
    first = np.cumsum(k) - k
    j = np.arange(len(user)) - first[user] + 1  # 1-based point number within the user
    end = np.where(j == k[user], n[user], j * stride)
    return user, end


def interaction_windows(
    bounds: np.ndarray,
    item: np.ndarray,
    time: np.ndarray,
    value: np.ndarray | None,
    action: np.ndarray | None,
    window: InteractionWindow,
    sig: Signals,
    stride: int,
    steps: bool = True,
) -> WindowArrays:
    """The windows of every scoring point of the users `bounds` delimits (module docstring)."""
    if not isinstance(window, InteractionWindow):
        raise NotImplementedError(
            f"the vectorised windows cover interaction windows, not {window.kind} windows"
        )
    bounds = np.asarray(bounds, np.int64)
    n = np.diff(bounds)
    users, ends = scoring_ends(n, stride)
    keep = ends >= window.min_history
    users, ends = users[keep], ends[keep]
    width = window.n_features(sig)
    step_shape = (window.size, window.n_step_features(sig))
    if not len(users):
        return WindowArrays(
            bounds[users], ends, np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros((0, width), np.float32),
            np.zeros((0, *step_shape), np.float32) if steps else None,
        )  # fmt: skip
    cols = _Columns(item, time, value, action, sig, window)
    feats = np.empty((len(users), width), np.float32)
    step_rows = np.empty((len(users), *step_shape), np.float32) if steps else None
    now = np.empty(len(users), np.int64)
    start = np.empty(len(users), np.int64)
    # Blocks of users of similar length, so that padding costs little.
    by_len = np.argsort(n, kind="stable")
    by_len = by_len[n[by_len] >= window.min_history]
    slot_of = np.full(len(n), -1, np.int64)
    lo = 0
    while lo < len(by_len):
        take = max(1, CELLS // int(n[by_len[min(lo + 1, len(by_len)) - 1]]))
        block = by_len[lo : lo + take]
        take = max(1, CELLS // int(n[block].max()))  # the block's longest user sets its size
        block = block[:take]
        lo += len(block)
        slot_of[block] = np.arange(len(block))
        pts = np.flatnonzero(slot_of[users] >= 0)
        f, st, t_now, t_start = cols.block(
            bounds[block], n[block], int(n[block].max()), slot_of[users[pts]], ends[pts], steps
        )
        slot_of[block] = -1
        feats[pts] = f
        if steps:
            step_rows[pts] = st
        now[pts], start[pts] = t_now, t_start
    return WindowArrays(bounds[users], ends, now, start, feats, step_rows)


def _signed_log(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.log1p(np.abs(v))


class _Columns:
    """The log's columns and what the window reads of them."""

    def __init__(self, item, time, value, action, sig: Signals, window: InteractionWindow):
        self.item = np.asarray(item, np.int64)
        self.time = np.asarray(time, np.int64)
        self.value = None if value is None else np.asarray(value, np.float64)
        self.action = None if action is None else np.asarray(action, np.int64)
        self.sig, self.window = sig, window
        self.blocks = window._blocks(sig)
        if self.value is None and sig.has_values and not window.activity_only:
            raise ValueError("the signals have values but the log has none")
        if "actions" in self.blocks and self.action is None:
            raise ValueError("the signals have actions but the log has none")

    def block(self, starts, n, longest, slot, ends, with_steps: bool):
        """Features, steps, now and window start of the points (`slot`: the point's user
        within the block, `ends`: its end) of users starting at rows `starts`."""
        s = self.window.size
        U, L = len(starts), longest
        col = np.arange(L)
        valid = col[None, :] < n[:, None]
        rows = np.where(valid, starts[:, None] + col[None, :], 0)
        t = self.time[rows]  # [U, L]
        e = ends  # history rows [0, e) of the user; recent [e - s, e), profile [0, e - s)
        r0 = e - s
        last = np.minimum(e, n[slot] - 1)
        now = t[slot, last]  # time of the predicted interaction, or of the last one
        window_start = t[slot, r0]

        def run(x: np.ndarray) -> np.ndarray:
            """Per-user running sums with a leading zero column: [U, L + 1, ...], of `x`
            whose cells past each user's rows are zero (so no mask pass is needed)."""
            c = np.empty((U, L + 1, *x.shape[2:]), x.dtype)
            c[:, 0] = 0
            np.cumsum(x, axis=1, out=c[:, 1:])
            return c

        def onehot(codes: np.ndarray, k: int) -> np.ndarray:
            """[U, L, k] one-hot float64 rows of `codes`, all zero past each user's rows."""
            return np.eye(k + 1)[:, :k][np.where(valid, codes, k)]

        def means(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(recent mean, profile mean) of the running sums `c` at the points."""
            recent = (c[slot, e] - c[slot, r0]) / s
            profile = c[slot, r0] / r0.reshape((-1,) + (1,) * (c.ndim - 2))
            return recent, profile

        sig = self.sig
        feats = []
        shares = share_sums = None
        if sig.n_categories and not self.window.activity_only:
            # [U, L, C]; row 0 of the shares (the padding item) is zero, and so are the cells
            # past each user's rows
            shares = sig.shares[np.where(valid, self.item[rows], 0)]
            share_sums = run(shares)  # the features and the steps both read these
        for name in self.blocks:
            if name == "categories":
                r, p = means(share_sums)
                feats.append(r - p)
            elif name == "actions":
                a = np.clip(self.action[rows], 0, sig.n_actions - 1)
                r, p = means(run(onehot(a, sig.n_actions)))
                feats.append(r - p)
            elif name == "value":
                feats.append(self._value_shift(rows, valid, slot, e, r0)[:, None])
            else:
                hours = onehot((t % int(_DAY)) // int(6 * _HOUR), N_HOUR_BUCKETS)
                r, p = means(run(hours))
                feats.append(r - p)
        feats.append(self._rhythm(t, n, slot, e, r0, now))
        X = np.concatenate(feats, axis=1).astype(np.float32)
        steps = None
        if with_steps:
            steps = self._steps(rows, valid, t, shares, share_sums, slot, e, r0, now)
        return X, steps, now, window_start

    def _value_shift(self, rows, valid, slot, e, r0) -> np.ndarray:
        """_value_shift of the window: the recent mean signed-log value against the profile's
        mean and spread (finite values only; 0 where either part has none)."""
        x = _signed_log(self.value[rows])
        ok = valid & np.isfinite(x)
        x = np.where(ok, x, 0.0)
        cnt = np.concatenate([np.zeros((len(x), 1)), np.cumsum(ok, 1)], 1)
        s1 = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x, 1)], 1)
        n_r = cnt[slot, e] - cnt[slot, r0]
        n_p = cnt[slot, r0]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_r = (s1[slot, e] - s1[slot, r0]) / n_r
            mean_p = s1[slot, r0] / n_p
            std_p = _prefix_std(x, ok, slot, r0, mean_p)
            out = np.clip((mean_r - mean_p) / (std_p + 0.1), -10.0, 10.0)
        return np.where((n_r > 0) & (n_p > 0), out, 0.0)

    def _rhythm(self, t, n, slot, e, r0, now) -> np.ndarray:
        """log1p median gap of the window and of the profile (hours), log1p idle days, and
        the idle time against the profile's 90th percentile gap (log ratio of hours)."""
        s = self.window.size
        gaps = np.diff(t, axis=1)  # [U, L - 1], int64
        # the window's s - 1 gaps: gaps[e - s .. e - 2]
        idx = r0[:, None] + np.arange(s - 1)[None, :]
        recent = np.sort(gaps[slot[:, None], idx].astype(np.float64), axis=1)
        med_recent = _median_sorted(recent, np.full(len(e), s - 1))
        # the profile's gaps: gaps[0 .. r0 - 2], r0 - 1 of them (none when r0 == 1)
        m = r0 - 1
        lows, highs = _profile_order_stats(gaps, n, slot, m)
        med_profile = np.where(m > 0, (lows[0] + highs[0]) / 2.0, 0.0)  # float64 gaps
        usual = np.where(m > 0, _lerp_quantile(lows[1], highs[1], m, 0.9), 0.0)
        last_time = t[slot, e - 1]
        idle = np.maximum(now.astype(np.float64) - last_time.astype(np.float64), 0.0)
        return np.column_stack(
            [
                np.log1p(med_recent / _HOUR),
                np.log1p(med_profile / _HOUR),
                np.log1p(idle / _DAY),
                np.log1p(idle / _HOUR) - np.log1p(usual / _HOUR),
            ]
        )

    def _steps(self, rows, valid, t, shares, share_sums, slot, e, r0, now) -> np.ndarray:
        s, sig, w = self.window.size, self.sig, self.window
        recent_idx = r0[:, None] + np.arange(s)[None, :]  # [P, s]
        cols = []
        if not w.activity_only and sig.n_categories:
            profile_mean = share_sums[slot, r0] / r0[:, None]
            cols.append(shares[slot[:, None], recent_idx] - profile_mean[:, None, :])
        if not w.activity_only and sig.has_values:
            v = _signed_log(np.nan_to_num(self.value[rows]))
            v = np.where(valid, v, 0.0)
            s1 = np.concatenate([np.zeros((len(v), 1)), np.cumsum(v, 1)], 1)
            mean_p = s1[slot, r0] / r0
            std_p = _prefix_std(v, valid, slot, r0, mean_p)
            z = (v[slot[:, None], recent_idx] - mean_p[:, None]) / (std_p[:, None] + 0.1)
            cols.append(np.clip(z, -10, 10)[:, :, None])
        times = np.concatenate(
            [t[slot[:, None], recent_idx].astype(np.float64), now.astype(np.float64)[:, None]], 1
        )
        after = np.diff(times, axis=1).clip(0)
        cols.append(np.log1p(after / _HOUR)[:, :, None])
        return np.concatenate(cols, axis=2).astype(np.float32)


def _prefix_std(x, ok, slot, r0, mean_p) -> np.ndarray:
    """Population standard deviation of each point's profile values x[:r0] where `ok`
    (two passes: the sum of squared deviations from the profile mean)."""
    U, L = x.shape
    out = np.zeros(len(r0))
    # Points grouped by profile length in column blocks keep the pass at [points, L] cells.
    for lo in range(0, len(r0), max(1, CELLS // max(L, 1))):
        sl = slice(lo, lo + max(1, CELLS // max(L, 1)))
        xs, oks = x[slot[sl]], ok[slot[sl]]
        inside = oks & (np.arange(L)[None, :] < r0[sl, None])
        d = np.where(inside, xs - mean_p[sl, None], 0.0)
        cnt = inside.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = np.sqrt((d * d).sum(1) / cnt)
    return out


def _median_sorted(sorted_rows: np.ndarray, m: np.ndarray) -> np.ndarray:
    lo = np.take_along_axis(sorted_rows, ((m - 1) // 2)[:, None], 1)[:, 0]
    hi = np.take_along_axis(sorted_rows, (m // 2)[:, None], 1)[:, 0]
    return np.where(m % 2 == 1, lo, (lo + hi) / 2.0)


def _lerp_quantile(a: np.ndarray, b: np.ndarray, m: np.ndarray, q: float) -> np.ndarray:
    """NumPy's linear quantile between the order statistics a (floor) and b (floor + 1) of m
    int64 values, with NumPy's own arithmetic (so the result is bit-identical)."""
    vi = (m - 1) * q
    gamma = vi - np.floor(vi)
    d = b - a  # int64, as NumPy subtracts the values before scaling
    out = a + d * gamma
    return np.where(gamma >= 0.5, b - d * (1 - gamma), out)


def _profile_order_stats(gaps, n, slot, m):
    """Order statistics of each point's first m gaps: ((median low, 0.9-quantile low),
    (median high, 0.9-quantile high)) as the ranks np.median and np.quantile(0.9) read."""
    U, G = gaps.shape
    big = np.iinfo(np.int64).max
    valid = np.arange(G)[None, :] < (n[:, None] - 1)
    g = np.where(valid, gaps, big)
    order = np.argsort(g, axis=1, kind="stable")
    sorted_g = np.take_along_axis(g, order, 1)
    P = len(m)
    mm = np.maximum(m, 1)
    ranks = [
        (mm - 1) // 2,  # median, lower
        mm // 2,  # median, upper (== lower for odd m)
        np.floor((mm - 1) * 0.9).astype(np.int64),
        np.minimum(np.floor((mm - 1) * 0.9).astype(np.int64) + 1, mm - 1),
    ]
    found = [np.zeros(P, np.int64) for _ in ranks]
    step = max(1, CELLS // max(G, 1))
    dtype = np.int16 if G < 32_000 else np.int32
    for lo in range(0, P, step):
        sl = slice(lo, lo + step)
        inside = order[slot[sl]] < m[sl, None]  # [p, G]: sorted gap j lies in the profile
        cum = np.cumsum(inside, axis=1, dtype=dtype)
        for k, r in enumerate(ranks):
            col = (cum <= r[sl, None]).sum(1)  # first sorted position with cum > r
            col = np.minimum(col, G - 1)
            found[k][sl] = sorted_g[slot[sl], col]
    med = (found[0].astype(np.float64), found[1].astype(np.float64))
    return (med[0], found[2]), (med[1], found[3])
