"""The model side: which model, what it costs, how it is prompted, and the authoring conversation."""
