"""Learning in stages: reviewed rows train the trainable specialists, cross-fitted for the audit (`stages`)."""
