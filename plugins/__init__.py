"""Built-in plugins, shipped under the import name ``assistant_plugins``.

Each module is a plugin like any third party's: it imports only the public
API (``assistant``), and is a template to copy.
"""
