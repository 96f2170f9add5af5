from sweep.cli import entrypoint

entrypoint()
