import pytest

from fedmix.model_keys import GLOBAL, client_group, model_key, parse_model_key, serving_key


@pytest.mark.parametrize(
    ("group", "stream", "key"),
    [(GLOBAL, 0, "global"), (GLOBAL, 1, "global#stream2"), (client_group("a"), 0, "client:a")],
)
def test_keys_are_built_and_parsed_by_one_rule(group, stream, key):
    assert model_key(group, stream) == key
    assert parse_model_key(key) == (group, stream)


def test_serving_key_prefers_the_clients_own_model_and_names_what_is_missing():
    assert serving_key({"global": 1, "global#stream2": 2}, "a") == "global"
    assert serving_key({"client:a": 1, "client:b": 2}, "b") == "client:b"
    with pytest.raises(KeyError, match="client:z"):
        serving_key({"client:a": 1}, "z")
