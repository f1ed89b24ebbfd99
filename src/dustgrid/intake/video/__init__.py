"""Video-AI events by webhook: vendors' detections become cases (docs/intake.md)."""
