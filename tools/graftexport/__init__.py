"""Export PyTorch models to graft's JSON architecture format."""
