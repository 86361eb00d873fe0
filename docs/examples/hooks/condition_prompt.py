"""Tell the model who it is talking to; configurable per user.

In config.toml:  [plugins.condition_prompt]  audience = "children"
"""

from dataclasses import replace

from assistant import hookimpl


@hookimpl
def condition_prompt(prompt, query, settings):
    audience = settings.plugin_options("condition_prompt").get("audience", "a busy engineer")
    return replace(prompt, metadata={**prompt.metadata, "audience": audience})
