"""Running untrusted automation code: the browser, the runner process, the OS sandbox, and `ctx`."""
