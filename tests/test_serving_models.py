"""flowlog.serving.models: versions found on disk, loaded, swapped without a gap, unloaded
only after their last request, and a broken version never replacing a good one."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from serving_support import export_linear, linear_answer

from flowlog.serving.config import ModelConfig, VersionPolicy
from flowlog.serving.errors import ServingError
from flowlog.serving.models import AVAILABLE, END, UNLOADING, ModelManager

W1, B1 = [1.0, 2.0], 0.5
W2, B2 = [-3.0, 1.0], 2.0


def _manager(base, policy=None, labels=None):
    events = []
    config = ModelConfig("m", str(base), policy or VersionPolicy("latest"), labels or {})
    manager = ModelManager([config], lambda *e: events.append(e))
    return manager, manager.model("m"), events


def _predict(model, x, version=None):
    with model.acquire(version) as v:
        return v.number, v.loaded.run_checked({"x": np.asarray(x, np.float32)})["y"]


def test_latest_version_serves_and_a_new_one_replaces_it(tmp_path):
    export_linear(tmp_path, 1, W1, B1)
    manager, model, events = _manager(tmp_path)
    assert manager.poll_once() == []
    x = [[1.0, 1.0], [2.0, -1.0]]
    number, y = _predict(model, x)
    assert number == 1 and np.array_equal(y, linear_answer(x, W1, B1))
    export_linear(tmp_path, 2, W2, B2)
    manager.poll_once()
    number, y = _predict(model, x)
    assert number == 2 and np.array_equal(y, linear_answer(x, W2, B2))
    assert model.status() == [(2, AVAILABLE, "OK", ""), (1, END, "OK", "")]
    assert [(e[1], e[2]) for e in events] == [
        (1, "LOADING"), (1, AVAILABLE), (2, "LOADING"), (2, AVAILABLE), (1, UNLOADING), (1, END)
    ]  # fmt: skip


def test_an_unloading_version_waits_for_its_request_in_flight(tmp_path):
    export_linear(tmp_path, 1, W1, B1)
    manager, model, _ = _manager(tmp_path)
    manager.poll_once()
    held = model.acquire()  # a request still running on version 1
    export_linear(tmp_path, 2, W2, B2)
    poller = threading.Thread(target=manager.poll_once)
    poller.start()
    _wait(lambda: dict((v, s) for v, s, *_ in model.status()).get(1) == UNLOADING)
    # new requests already get version 2; the old one still computes version 1's answer
    assert _predict(model, [[1.0, 0.0]])[0] == 2
    with held as version:
        y = version.loaded.run_checked({"x": np.ones((1, 2), np.float32)})["y"]
        assert np.array_equal(y, linear_answer([[1, 1]], W1, B1))
    poller.join(timeout=10)
    assert not poller.is_alive()
    assert dict((v, s) for v, s, *_ in model.status()) == {2: AVAILABLE, 1: END}


def _wait(condition, timeout=10.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition never became true")


def test_a_truncated_version_is_reported_and_the_old_one_keeps_serving(tmp_path):
    export_linear(tmp_path, 1, W1, B1)
    manager, model, _ = _manager(tmp_path)
    manager.poll_once()
    broken = export_linear(tmp_path / "staging", 2, W2, B2)
    data = (broken / "variables.npz").read_bytes()
    (broken / "variables.npz").write_bytes(data[: len(data) // 2])
    shutil.move(broken, tmp_path / "2")
    errors = manager.poll_once()
    assert len(errors) == 1 and "variables.npz" in errors[0]
    (number, state, code, message), (old, old_state, *_) = model.status()
    assert (number, state, code, old, old_state) == (2, END, "DATA_LOSS", 1, AVAILABLE)
    assert "variables.npz" in message
    assert _predict(model, [[1.0, 1.0]])[0] == 1
    assert manager.poll_once() == []  # not retried while its files are unchanged
    shutil.rmtree(tmp_path / "2")
    export_linear(tmp_path, 2, W2, B2)  # re-exported whole: loads
    manager.poll_once()
    assert _predict(model, [[1.0, 1.0]])[0] == 2


def test_policies_and_labels_choose_the_versions(tmp_path):
    for v in (1, 2, 3):
        export_linear(tmp_path, v, W1, v)
    manager, model, _ = _manager(tmp_path, VersionPolicy("latest", num_versions=2), {"stable": 2})
    manager.poll_once()
    assert model.serving_versions() == [2, 3]
    number, y = _predict(model, [[0.0, 0.0]])
    assert number == 3 and y.tolist() == [[3.0]]
    with model.acquire(label="stable") as v:
        assert v.number == 2
    with pytest.raises(ServingError) as err:
        model.acquire(label="canary")
    assert (err.value.http_status, err.value.message) == (
        400, "Unrecognized servable version label: canary"
    )  # fmt: skip
    with pytest.raises(ServingError) as err:
        model.acquire(1)
    assert (err.value.http_status, err.value.message) == (
        404, "Servable not found for request: Specific(m, 1)"
    )  # fmt: skip
    specific, smodel, _ = _manager(tmp_path, VersionPolicy("specific", versions=(1, 3)))
    specific.poll_once()
    assert smodel.serving_versions() == [1, 3]


def test_a_removed_version_directory_is_unloaded(tmp_path):
    export_linear(tmp_path, 1, W1, B1)
    export_linear(tmp_path, 2, W2, B2)
    manager, model, _ = _manager(tmp_path)
    manager.poll_once()
    shutil.rmtree(tmp_path / "2")
    manager.poll_once()  # 1 becomes the latest again and loads before 2 goes
    assert model.serving_versions() == [1]
    assert _predict(model, [[1.0, 1.0]])[0] == 1


def test_unknown_models_and_missing_base_paths(tmp_path):
    manager, model, events = _manager(tmp_path / "nothing-yet")
    assert manager.poll_once() == []
    assert any("does not exist" in e[3] for e in events)
    with pytest.raises(ServingError) as err:
        model.acquire()
    assert err.value.http_status == 404 and "Latest(m)" in err.value.message
    with pytest.raises(ServingError) as err:
        model.status()
    assert err.value.message == "Could not find any versions of model m"
    with pytest.raises(ServingError) as err:
        manager.model("other")
    assert err.value.http_status == 404


def test_a_config_reload_adds_removes_and_changes_models(tmp_path):
    export_linear(tmp_path / "a", 1, W1, B1)
    export_linear(tmp_path / "a", 2, W2, B2)
    export_linear(tmp_path / "b", 5, W2, B2)
    a = ModelConfig("a", str(tmp_path / "a"))
    manager = ModelManager([a])
    manager.poll_once()
    old_a = manager.model("a")
    pinned = ModelConfig("a", str(tmp_path / "a"), VersionPolicy("specific", versions=(1,)))
    assert manager.reconfigure([pinned, ModelConfig("b", str(tmp_path / "b"))]) == []
    assert manager.model("a") is old_a and old_a.serving_versions() == [1]
    assert manager.model("b").serving_versions() == [5]
    manager.reconfigure([ModelConfig("b", str(tmp_path / "a"))])  # b moves, a goes
    with pytest.raises(ServingError):
        manager.model("a")
    assert old_a.serving_versions() == [] and dict((v, s) for v, s, *_ in old_a.status()) == {
        2: END,
        1: END,
    }
    assert manager.model("b").serving_versions() == [2]  # the latest under its new path
