"""Image detectors over [n, 3, H, W] ImageNet-normalised images (adrec.data.images loads
them so), behind the detector contract:

- feature memory over a frozen torchvision backbone: PaDiM (`padim`), PatchCore
  (`patchcore`), SPADE (`spade`);
- trained on the normal images: convolutional AE and VAE (`conv_ae`, `conv_vae`), Deep SVDD
  (`conv_svdd`), AnoGAN (`anogan`), CutPaste (`cutpaste`), FastFlow (`fastflow`).

Pure modules live in `models/`, shared pieces in adrec.components; `upload` turns uploaded
bytes into a verdict and a heatmap PNG, `overlay` draws heatmaps, `export` writes PaDiM and
PatchCore as TorchScript. Import the classes through adrec.detectors.registry (lazy)."""
