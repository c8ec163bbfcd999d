"""The registry API: names, aliases, info(), and the errors raised before any layer is built."""

import json
import re

import keras
import pytest

import keras_landmarks
from keras_landmarks import ConfigError, UnknownModelError
from keras_landmarks.registry import Paper, get_spec, register


def test_list_models_is_sorted_and_filters():
    names = keras_landmarks.list_models()
    assert names == sorted(names, key=keras_landmarks.registry.natural_key)  # resnet18 before resnet101, as timm
    assert keras_landmarks.list_models("resnet1*") == ["resnet18", "resnet18_v2", "resnet101", "resnet101_v2",
                                                        "resnet110", "resnet152", "resnet152_v2"]
    assert keras_landmarks.list_models(family="vgg") == [
        "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
    assert "lenet5" in keras_landmarks.list_models(task="image_classification")
    with pytest.raises(ConfigError, match="Unknown task 'no_such_task'. Allowed: .*image_classification"):
        keras_landmarks.list_models(task="no_such_task")  # a typo is named, not answered with "no model"
    with pytest.raises(ConfigError, match="Unknown family 'vgg16'. Allowed: alexnet, alphago, alphago_zero, bert"):
        keras_landmarks.list_models("vgg*", family="vgg16")


@pytest.mark.parametrize("alias, target", [("resnet", "resnet50"), ("vgg", "vgg16"), ("lenet", "lenet5"),
                                           ("googlenet", "inception_v1")])
def test_aliases(alias, target):
    assert keras_landmarks.info(alias)["name"] == target
    assert alias in keras_landmarks.info(target)["aliases"]
    assert keras_landmarks.build(alias).name == target


def test_info_carries_paper_lineage_and_params():
    spec = keras_landmarks.info("resnet50")
    assert spec["paper"]["title"] == "Deep Residual Learning for Image Recognition"
    assert spec["paper"]["year"] == 2015 and spec["paper"]["url"].startswith("https://")
    assert {"alexnet", "vgg"} <= set(spec["lineage"]["extends"])
    assert any("transformer" in x for x in spec["lineage"]["adopted_by"])
    assert spec["params"] == 25_557_032
    assert "moving" in spec["params_counted"] and spec["params_source"]
    assert spec["inputs"] == {"images": [None, 224, 224, 3]}
    assert spec["outputs"] == {"predictions": [None, 1000]}
    assert spec["task"] == "image_classification" and "resnet152" in spec["variants"]
    json.dumps(spec)  # plain data


def test_every_model_has_a_paper_and_reference_count():
    for name in keras_landmarks.list_models():
        spec = get_spec(name)
        assert spec.paper.title and spec.paper.authors and spec.paper.url.startswith("http")
        # LeNet-5 (1998) opens the line; Reformer and ViT, published in 2020, close it.
        assert 1990 <= spec.paper.year <= 2020, name
        assert spec.params and spec.params_source, name


def test_image_builders_take_keras_applications_arguments():
    model = keras_landmarks.build("resnet18", input_shape=(64, 64, 3), include_top=False, pooling="avg",
                                  stackwise_num_filters=(4, 4, 8, 8), stem_filters=4)
    assert model.output_names == ["features"] and model.outputs[0].shape[-1] == 8
    model = keras_landmarks.build("vgg11", include_top=False, input_shape=(32, 32, 3),
                                  stackwise_num_filters=(4, 4, 4, 4, 4))
    assert tuple(model.outputs[0].shape) == (None, 1, 1, 4)
    model = keras_landmarks.build("lenet5", num_classes=3, classifier_activation=None)
    assert model.outputs[0].shape[-1] == 3 and model.get_layer("predictions").activation.__name__ == "linear"


def test_registering_a_name_twice_is_an_error():
    paper = Paper("t", "a", 2015, "v", "http://x")
    with pytest.raises(ValueError, match="already registered"):
        register("resnet50", family="x", builder=lambda: None, paper=paper, task="x", io=lambda c: c)
    with pytest.raises(ValueError, match="already registered"):
        register("new_name", aliases=("vgg",), family="x", builder=lambda: None, paper=paper, task="x",
                 io=lambda c: c)


# --------------------------------------------------------------------------------------------------
# Errors.


def test_unknown_model_suggests_close_matches():
    with pytest.raises(UnknownModelError, match=r"Unknown model 'resnet5'\. Did you mean: .*resnet50") as err:
        keras_landmarks.build("resnet5")
    assert isinstance(err.value, KeyError)
    assert "resnet50" in err.value.suggestions
    with pytest.raises(KeyError, match="Unknown model 'vgg17'"):
        keras_landmarks.info("vgg17")


@pytest.fixture
def no_layers(monkeypatch):
    """Fail the test if any Keras layer (keras.Input included) is created."""

    def boom(self, *args, **kwargs):
        raise AssertionError(f"a layer was built before the configuration was checked: {type(self).__name__}")

    monkeypatch.setattr(keras.layers.Layer, "__init__", boom)


BAD_CONFIGS = [
    ("resnet50", {"depth": 37}, r"'depth'.*one of 18, 34, 50, 101, 152.*Received: depth=37"),
    ("resnet50", {"num_classes": 0}, r"'num_classes'.*>= 1.*Received: num_classes=0"),
    ("alexnet", {"dropout": 1.0}, r"'dropout'.*\[0, 1\).*Received: dropout=1\.0"),
    ("dropout_mlp", {"dropout": -0.1}, r"'dropout'.*\[0, 1\).*Received: dropout=-0\.1"),
    ("alexnet", {"input_shape": (32, 32, 3)}, r"'input_shape'.*at least 67.*Received: input_shape=\(32, 32, 3\)"),
    ("vgg16", {"input_shape": (16, 16, 3)}, r"'input_shape'.*at least 32"),
    ("resnet20", {"depth": 21}, r"'depth'.*6n \+ 2.*Received: depth=21"),
    ("vgg16", {"depth": 15}, r"'depth'.*one of 11, 13, 16, 19.*Received: depth=15"),
    ("vgg16", {"num_classes": "ten"}, r"'num_classes'.*expected an int.*Received: num_classes='ten'"),
    ("vgg16", {"num_classes": 10.0}, r"'num_classes'.*expected an int"),
    ("vgg16", {"include_top": 1}, r"'include_top'.*expected a bool"),
    ("resnet50", {"pooling": "mean"}, r"'pooling'.*Received: pooling='mean'"),
    ("resnet50", {"classifier_activation": "sofmax"}, r"'classifier_activation'.*activation"),
    ("resnet50", {"foo": 1}, r"Unknown option 'foo'.*Allowed: .*depth.*num_classes"),
    ("lenet5", {"c3_connections": "partial"}, r"'c3_connections'.*'full', 'paper'"),
    ("alexnet", {"groups": 3}, r"'groups'.*Received: groups=3"),
    ("alexnet", {"stackwise_num_filters": (96, 255, 384, 384, 256)}, r"divisible by groups=2"),
    ("vgg16", {"input_shape": (None, None, 3)}, r"'input_shape'.*fixed height and width"),
    ("glorot_mlp", {"activation": "gelu"}, r"'activation'.*'sigmoid', 'tanh', 'softsign', 'relu'"),
    ("highway_mlp", {"num_layers": 0}, r"'num_layers'.*>= 1"),
]


@pytest.mark.parametrize("name, overrides, message", BAD_CONFIGS)
def test_bad_config_raises_before_building(name, overrides, message, no_layers):
    with pytest.raises(ConfigError, match=message) as err:
        keras_landmarks.build(name, **overrides)
    assert isinstance(err.value, ValueError)
    assert err.value.key in overrides


def test_valid_flexible_input_builds():
    model = keras_landmarks.build("resnet18", input_shape=(None, None, 3), include_top=False, pooling="max",
                                  stackwise_num_filters=(4, 4, 4, 4), stem_filters=4)
    assert model.outputs[0].shape[-1] == 4
    assert re.match(r"resnet18", model.name)
