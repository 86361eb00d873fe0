"""Settings precedence (assistant/config.py): defaults < the TOML config file <
``ASSISTANT_*`` environment variables < command-line flags, in
``Settings.load`` and through the real command line."""

from __future__ import annotations

import pytest

from assistant import Settings
from assistant.errors import ConfigError

from .conftest import run_cli

DEFAULTS = Settings()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ASSISTANT_<SETTING> variable from the caller's shell leaks into these tests."""
    for name in vars(DEFAULTS):
        monkeypatch.delenv(f"ASSISTANT_{name.upper()}", raising=False)
    return monkeypatch


def test_each_layer_overrides_only_the_layers_below_it(tmp_path, clean_env):
    # One setting per combination of layers, each layer giving its own value,
    # so a layer read in the wrong order, or not read at all, shows up as one
    # wrong field.
    config = tmp_path / "config.toml"
    config.write_text('top_k = 5\n'                     # file only
                      'temperature = 0.5\n'             # file < env
                      'strategy = "chain_of_thought"\n' # file < env < flag
                      'max_new_tokens = 77\n'           # file < flag
                      '[plugins.feedback]\nenabled = false\n')
    clean_env.setenv("ASSISTANT_TEMPERATURE", "0.9")
    clean_env.setenv("ASSISTANT_STRATEGY", "self_consistency")
    clean_env.setenv("ASSISTANT_OFFLINE", "no")         # env only (a bool, parsed)
    settings = Settings.load(config, {"strategy": "tree_of_thought", "max_new_tokens": 12,
                                      "backend": "transformers",  # flag only
                                      "top_p": None})  # a flag not given overrides nothing
    assert settings.retriever == DEFAULTS.retriever == "faiss"
    assert settings.top_p == DEFAULTS.top_p == 1.0
    assert settings.top_k == 5
    assert settings.temperature == 0.9
    assert settings.strategy == "tree_of_thought"
    assert settings.max_new_tokens == 12
    assert settings.offline is False
    assert settings.backend == "transformers"
    assert settings.plugin_options("feedback") == {"enabled": False}  # plugin tables reach the plugin untouched


def test_the_default_config_file_is_read_and_its_absence_is_fine(tmp_path, clean_env):
    # pytest_configure points XDG_CONFIG_HOME at an empty folder; a file there is found
    assert Settings.load() == DEFAULTS
    xdg = tmp_path / "xdg"
    (xdg / "assistant").mkdir(parents=True)
    (xdg / "assistant" / "config.toml").write_text("top_k = 7\n")
    clean_env.setenv("XDG_CONFIG_HOME", str(xdg))
    assert Settings.load().top_k == 7
    elsewhere = tmp_path / "elsewhere.toml"  # ASSISTANT_CONFIG names the file instead
    elsewhere.write_text("top_k = 8\n")
    clean_env.setenv("ASSISTANT_CONFIG", str(elsewhere))
    assert Settings.load().top_k == 8
    clean_env.setenv("ASSISTANT_TOP_K", "9")
    assert Settings.load().top_k == 9
    # an explicit --config that does not exist is a mistake, said clearly
    with pytest.raises(ConfigError, match="config file .*missing.toml does not exist"):
        Settings.load(tmp_path / "missing.toml")


def test_environment_values_are_checked_and_non_settings_are_ignored(clean_env):
    clean_env.setenv("ASSISTANT_TOP_K", "many")
    with pytest.raises(ConfigError, match="setting 'top_k' from environment must be int, got 'many'"):
        Settings.load()
    clean_env.setenv("ASSISTANT_TOP_K", "4")
    # ASSISTANT_PLUGINS is the plugin allow-list, not the per-plugin tables of
    # the `plugins` setting, and ASSISTANT_HOME is the data folder: neither is read as a setting
    clean_env.setenv("ASSISTANT_PLUGINS", "zero_shot")
    settings = Settings.load()
    assert settings.top_k == 4 and settings.plugins == {}


def test_the_command_line_applies_the_same_order(tmp_path, clean_env):
    config = tmp_path / "config.toml"
    config.write_text('backend = "llamacpp"\ntop_k = 4\nmax_new_tokens = 77\n')
    env = {"ASSISTANT_BACKEND": "auto", "ASSISTANT_TOP_K": "6"}
    shown = run_cli("--config", str(config), "--backend", "transformers", "config", env=env)
    assert shown.returncode == 0, shown.stderr
    values = dict(line.split(" = ", 1) for line in shown.stdout.splitlines() if " = " in line and line[0] != "#")
    assert values["backend"] == "'transformers'"  # flag over env over file
    assert values["top_k"] == "6"  # env over file
    assert values["max_new_tokens"] == "77"  # file over default
    assert values["temperature"] == repr(DEFAULTS.temperature)  # untouched default
    assert f"# config file: {config}" in shown.stdout


def test_retriever_options_come_from_their_table_env_flags_and_r(tmp_path, clean_env):
    """The FAISS retriever's options (issue #20): the [plugins.faiss] table,
    merged key by key with -R and the plugin's own flags; old top-level names
    get a message saying where they went."""
    from assistant.cli.app import AppContext
    from assistant.retriever import retriever_options

    config = tmp_path / "config.toml"
    config.write_text('[plugins.faiss]\nmode = "dense"\nrrf_k = 20\n')
    settings = Settings.load(config, {"plugins": {"faiss": {"mmr_lambda": "0.5"}}})
    assert settings.plugin_options("faiss") == {"mode": "dense", "rrf_k": 20, "mmr_lambda": "0.5"}
    from assistant_plugins.faiss_retrieval.retriever import FaissRetriever

    options = retriever_options(settings, "faiss", FaissRetriever)
    assert (options.mode, options.rrf_k, options.mmr_lambda, options.chunk_tokens) == ("dense", 20, 0.5, 200)
    app = AppContext(config_path=config)
    app.retriever_options.update({"mode": "bm25"})
    app.set_plugin_option("faiss", "type_filter", "md")
    assert app.settings().plugin_options("faiss") == {"mode": "bm25", "rrf_k": 20, "type_filter": "md"}
    for bad, words in (({"nope": "1"}, "has no option 'nope'"), ({"mode": "fuzzy"}, "mode must be dense, bm25"),
                       ({"rrf_k": "many"}, "must be int")):
        with pytest.raises(ConfigError) as caught:
            retriever_options(Settings(plugins={"faiss": bad}), "faiss", FaissRetriever)
        assert words in caught.value.message, caught.value.message
    old = tmp_path / "old.toml"
    old.write_text('retrieval_mode = "bm25"\n')
    with pytest.raises(ConfigError) as caught:
        Settings.load(old)
    assert "now the option 'mode' of the 'faiss' retriever" in caught.value.message
    assert "[plugins.faiss]" in caught.value.hint and "--retriever-option mode=VALUE" in caught.value.hint
    clean_env.setenv("ASSISTANT_CHUNK_TOKENS", "100")
    with pytest.raises(ConfigError, match="chunk_tokens"):
        Settings.load()


def test_retriever_options_on_the_command_line(clean_env):
    shown = run_cli("config", "-h")
    assert shown.returncode == 0
    listed = run_cli("config")
    assert "[plugins.faiss]" in listed.stdout and "mode = 'hybrid'" in listed.stdout
    bad = run_cli("search", "x", "-R", "nope=1")
    assert bad.returncode != 0 and "retriever 'faiss' has no option 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = run_cli("search", "x", "-R", "mode")
    assert bad.returncode != 0 and "retriever option 'mode' is not KEY=VALUE" in bad.stderr and "-R mode=bm25" in bad.stderr
