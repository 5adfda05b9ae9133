"""TF Serving's config files as flowlog reads them: real files written to tmp_path, parsed back."""

from __future__ import annotations

import os

import pytest

from flowlog.serving.config import (
    BatchingParameters,
    ConfigError,
    ModelConfig,
    VersionPolicy,
    model_config_from_flags,
    read_batching_parameters,
    read_model_config,
)

TWO_MODELS = """
# two models, as in TF Serving's serving_config.md
model_config_list {
  config {
    name: 'm'
    base_path: '/models/m'
    model_platform: 'tensorflow'
    model_version_policy { latest { num_versions: 2 } }
    version_labels { key: 'stable' value: 42 }
    version_labels { key: "canary" value: 43 }
  }
  config: {
    name: "half"   base_path: "/models/half";
    model_version_policy: { specific { versions: 42 versions: 43 } }
  }
}
"""


def write(tmp_path, text, name="models.config"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path, text, reader=read_model_config) -> str:
    with pytest.raises(ConfigError) as info:
        reader(write(tmp_path, text))
    return str(info.value)


def test_reads_tf_serving_example(tmp_path):
    m, half = read_model_config(write(tmp_path, TWO_MODELS))
    assert m == ModelConfig(
        "m", "/models/m", VersionPolicy("latest", 2), {"stable": 42, "canary": 43}
    )
    assert dict(m.labels) == {"stable": 42, "canary": 43}
    assert half.policy == VersionPolicy("specific", versions=(42, 43))
    assert half.policy.kind == "specific" and dict(half.labels) == {}
    assert hash(m) == hash(read_model_config(write(tmp_path, TWO_MODELS))[0])


def test_labels_are_read_only(tmp_path):
    (m, _) = read_model_config(write(tmp_path, TWO_MODELS))
    with pytest.raises(TypeError):
        m.labels["x"] = 1  # type: ignore[index]


def test_syntax_variants(tmp_path):
    text = r"""model_config_list <
      config [ { name: 'a\x41\101' 'b' base_path: "p/\"q\"" model_platform: "flowlog" },
               < name: 'c', base_path: '/c' model_version_policy { all {} } > ]
    >"""
    a, c = read_model_config(write(tmp_path, text))
    assert a.name == "aAAb"
    assert a.base_path == os.path.join(str(tmp_path), 'p/"q"')
    assert c.policy == VersionPolicy("all")


def test_list_syntax_and_hex_versions(tmp_path):
    text = "model_config_list { config { name: 'm' base_path: '/m' "
    text += "model_version_policy { specific { versions: [0x10, 3] } } } }"
    (m,) = read_model_config(write(tmp_path, text))
    assert m.policy.versions == (3, 16)


def test_relative_base_path_is_anchored_to_the_config_file(tmp_path, monkeypatch):
    sub = tmp_path / "conf"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    text = "model_config_list { config { name: 'm' base_path: '../models/m' } }"
    (m,) = read_model_config(write(sub, text))
    assert m.base_path == os.path.join(str(sub), "../models/m")
    assert os.path.normpath(m.base_path) == str(tmp_path / "models" / "m")


def test_defaults_and_empty_list(tmp_path):
    (m,) = read_model_config(write(tmp_path, "model_config_list{config{name:'m' base_path:'/m'}}"))
    assert m.policy == VersionPolicy("latest", 1) and dict(m.labels) == {}
    assert read_model_config(write(tmp_path, "model_config_list {}")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1:1: no model_config_list"),
        ("model_config_list { config { base_path: '/m' } }", "needs a non-empty 'name'"),
        ("model_config_list { config { name: 'm' } }", "'m' needs a non-empty 'base_path'"),
        (
            "model_config_list {\n config { name: 'm' base_path: '/a' }\n"
            " config { name: 'm' base_path: '/b' } }",
            "3:2: duplicate model name 'm'",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m' model_platform: 'pytorch' } }",
            "model_platform 'pytorch' is not served",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m'\n"
            "  model_version_policy { latest { num_versions: 0 } } } }",
            "2:35: num_versions must be at least 1, not 0",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m' bas_path: 'x' } }",
            "1:56: unknown field 'bas_path' in ModelConfig",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m' logging_config {} } }",
            "unknown field 'logging_config'",
        ),
        ("model_config_list { config { name: 'm' name: 'n' } }", "'name' is specified more"),
        ("model_config_list { config { name: 42 } }", "field 'name' must be a string"),
        ("model_config_list { config { name: 'm }", "1:36: unterminated string"),
        ("model_config_list { config { name 'm' } }", "expected ':' after field 'name'"),
        ("model_config_list { config { name: 'm'", "missing '}'"),
        ("model_config_list { config { name: 'm' } } }", "expected a field name, found '}'"),
        ("model_config_list { config { name: 'm' $ } }", "unexpected character '$'"),
        ("model_config_list { config { name: 'a\\qb' } }", "bad escape \\q"),
        ("model_config_list { [ext.x] {} }", "extension and Any fields"),
        (
            "model_config_list { config { name: 'm' base_path: 'gs://b/m' } }",
            "only local directories are supported",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m' model_version_policy {\n"
            "  latest {} all {} } } }",
            "2:13: model_version_policy takes one of latest, all, specific",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m'"
            " model_version_policy { specific {} } } }",
            "needs at least one 'versions: N'",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m'\n"
            " version_labels { key: 's' value: 1 } version_labels { key: 's' value: 2 } } }",
            "version label 's' is defined twice",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/m'"
            " version_labels { key: 's' } } }",
            "version_labels needs a non-empty 'key' and a 'value'",
        ),
    ],
)
def test_mistakes_are_located_and_named(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "models.config") + ":")
    assert expected in message


def test_comments_and_line_numbers(tmp_path):
    text = "# a comment { not parsed\nmodel_config_list {  # trailing\n  confg { }\n}\n"
    assert error_of(tmp_path, text).endswith(
        "models.config:3:3: unknown field 'confg' in ModelConfigList"
    )


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_model_config(tmp_path / "absent.config")


def test_version_policy_wanted():
    available = [3, 1, 7, 5]
    assert VersionPolicy("latest").wanted(available) == [7]
    assert VersionPolicy("latest", num_versions=3).wanted(available) == [3, 5, 7]
    assert VersionPolicy("latest", num_versions=9).wanted(available) == [1, 3, 5, 7]
    assert VersionPolicy("all").wanted(available) == [1, 3, 5, 7]
    assert VersionPolicy("specific", versions=(5, 4, 1)).wanted(available) == [1, 5]
    assert VersionPolicy("latest").wanted([]) == []
    with pytest.raises(ConfigError):
        VersionPolicy("newest")


def test_model_config_from_flags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = model_config_from_flags("default", "models/m")
    assert config == ModelConfig("default", str(tmp_path / "models" / "m"))
    with pytest.raises(ConfigError, match="--model_base_path is required"):
        model_config_from_flags("default", "")
    with pytest.raises(ConfigError, match="--model_name"):
        model_config_from_flags("", "/m")


def test_batching_parameters(tmp_path):
    text = """
    max_batch_size { value: 128 }
    batch_timeout_micros { value: 1000 }
    max_enqueued_batches { value: 4 }
    num_batch_threads { value: 3 }
    pad_variable_length_inputs: false
    """
    params = read_batching_parameters(write(tmp_path, text, "batching.config"))
    assert params == BatchingParameters(128, 1000, 3, 4)
    assert params.warnings == ()


def test_batching_defaults_are_tf_defaults(tmp_path):
    params = read_batching_parameters(write(tmp_path, "# nothing set\n"))
    assert (params.max_batch_size, params.batch_timeout_micros) == (1000, 0)
    assert params.max_enqueued_batches == 10
    assert params.num_batch_threads == (os.cpu_count() or 1)


def test_batching_ignored_fields_warn(tmp_path):
    text = (
        "max_batch_size { value: 8 }\nallowed_batch_sizes: [4, 8]\n"
        "pad_variable_length_inputs: true\nthread_pool_name { value: 'p' }\n"
    )
    params = read_batching_parameters(write(tmp_path, text))
    assert params.max_batch_size == 8
    assert [w.split(": ")[1] for w in params.warnings] == [
        "thread_pool_name ignored",
        "allowed_batch_sizes ignored",
        "allowed_batch_sizes ignored",
        "pad_variable_length_inputs ignored",
    ]
    assert ":2:1: allowed_batch_sizes ignored" in params.warnings[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_batch_size: 128", "1:1: field 'max_batch_size' is a wrapper"),
        ("max_batch_size { value: 0 }", "max_batch_size must be at least 1, not 0"),
        ("batch_timeout_micros { value: -1 }", "batch_timeout_micros must be at least 0"),
        ("max_batch_size { value: 'big' }", "field 'value' must be an integer"),
        ("max_batch_size { valu: 3 }", "unknown field 'valu' in max_batch_size"),
        ("max_batch_sizes { value: 3 }", "unknown field 'max_batch_sizes' in BatchingParameters"),
        ("pad_variable_length_inputs: maybe", "must be true or false"),
    ],
)
def test_batching_mistakes(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text, read_batching_parameters)
