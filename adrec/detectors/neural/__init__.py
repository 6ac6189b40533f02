"""Neural detectors (pure nn.Modules in torch_model modules, thin contract wrappers beside
them). Importing this package registers them."""
