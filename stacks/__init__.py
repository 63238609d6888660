"""CDK: one construct per capability, composed into a few stacks."""
