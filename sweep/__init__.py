"""mlp-sweep: grid parsing, expansion, scheduling and execution backends."""
__version__ = "0.1.0"
