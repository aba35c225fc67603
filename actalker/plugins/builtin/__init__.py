"""Built-in plugins: regions, audio and motion. Each module is a plain pluggy plugin."""
