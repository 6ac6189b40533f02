"""A review log of another shop, for trying adrec as a new user would: Amazon-style JSON lines
(reviewerID, asin, unixReviewTime, reviewTime, overall) with string ids, timestamps at day
resolution, users with 5 to 40 reviews and no item categories. Made from the MovieLens-100k
ratings in ../shared/data (each user keeps a seeded random sample of their ratings, in time
order), since no review data set can be downloaded here.

    uv run python benchmarks/review_log.py --out reports/reviews/reviews.jsonl
    uv run adrec bench recommend --data reports/reviews/reviews.jsonl --seeds 0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from adrec.data.movielens import load_movielens

DAY = 86_400


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--movielens", default="../shared/data/ml-100k")
    p.add_argument("--out", required=True)
    p.add_argument("--min-reviews", type=int, default=5)
    p.add_argument("--max-reviews", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    ratings = load_movielens(args.movielens).ratings
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w") as f:
        for user, rows in ratings.groupby("user_id", sort=True):
            k = int(rng.integers(args.min_reviews, args.max_reviews + 1))
            keep = np.sort(rng.choice(len(rows), size=min(k, len(rows)), replace=False))
            for r in rows.iloc[keep].itertuples():
                day = int(r.timestamp) // DAY * DAY
                date = np.datetime64(day, "s").astype("datetime64[D]").item()
                record = {
                    "reviewerID": f"A{user:05X}",
                    "asin": f"B{r.item_id:09d}",
                    "unixReviewTime": day,
                    "reviewTime": f"{date:%m} {date.day}, {date:%Y}",
                    "overall": float(r.rating),
                }
                f.write(json.dumps(record) + "\n")
                n += 1
    print(f"wrote {n} reviews of {ratings['user_id'].nunique()} users to {out}")


if __name__ == "__main__":
    main()
