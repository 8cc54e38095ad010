pytest_plugins = ["dlmctl.testing"]
