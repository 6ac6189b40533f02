"""The pure nn.Modules of the image detectors (no contract, no Ray): each has
`score(x) -> [n]`, `anomaly_map(x) -> [n, H, W]` and `score_and_map(x)`; a trained one's
`forward(x)` is its per-image training loss (what DistributedDataParallel syncs), with
`prepare(x)` before training and `finish(x)` after it."""
