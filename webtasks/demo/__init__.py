"""The quick-start demo: a bundled local site and an automation for it."""
