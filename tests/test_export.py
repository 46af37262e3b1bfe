"""Exports round-trip: JSON loads back to the trace's numbers, NPZ arrays equal its tensors, CSV rows are
its tokens (and agree with the linked selection)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from media_factory import media_files  # noqa: F401  (fixture)
from qwenvl_viz import explain
from qwenvl_viz.errors import VizError
from qwenvl_viz.export import JSON_FORMAT, TOKEN_COLUMNS, to_csv, to_json, to_npz, token_table
from qwenvl_viz.selection import select_token


@pytest.fixture(scope="module")
def clip(media_files):
    return media_files.video("mp4", width=200, height=136, fps=10, frames=25, gop=5)


@pytest.fixture(scope="module")
def traces(clip, media_files):
    return {
        "qwen2.5": explain(clip, model="qwen2.5-vl", prompt="Zähle die Autos.\nBitte."),
        "qwen3_padded": explain(clip, model="qwen3-vl", pipeline="processor"),  # 5 frames -> 3 groups
        "image": explain(media_files.image("png", width=392, height=224), model="qwen2-vl"),
    }


@pytest.fixture(scope="module")
def encoded(traces):
    from qwenvl_viz.encoder import encode, get_tower

    trace = traces["qwen2.5"]
    tower = get_tower(preset="qwen2.5-vl-tiny", profile=trace.profile, seed=0, device="cpu")
    return trace, encode(trace, tower, layers=[0, 2])


@pytest.mark.parametrize("name", ["qwen2.5", "qwen3_padded", "image"])
def test_json_loads_back_to_the_same_numbers(traces, name):
    trace = traces[name]
    doc = json.loads(to_json(trace))
    assert doc["format"] == JSON_FORMAT and doc["encoder"] is None
    assert doc["summary"] == json.loads(json.dumps(trace.summary()))
    t = doc["trace"]
    assert t["model"] == trace.model.value and t["pipeline"] == trace.pipeline.value
    assert t["rope"]["position_ids"] == trace.rope.position_ids.tolist()
    assert t["rope"]["alt_position_ids"] == trace.rope.alt_position_ids.tolist()
    assert t["prompt"]["input_ids"] == trace.input_ids.tolist()
    assert t["prompt"]["expanded_text"] == trace.prompt.expanded_text
    assert t["patchify"]["grid_thw"] == list(trace.patchify.grid_thw)
    assert t["resize"]["steps"][0]["dst"] == list(trace.resize.steps[0].dst)
    assert doc["derived"]["pixel_values_shape"] == list(trace.patchify.shape)
    assert doc["derived"]["mm_token_type_ids"] == trace.prompt.mm_token_type_ids.tolist()
    if trace.sampling is not None:
        assert t["sampling"]["indices"] == list(trace.sampling.indices)
        assert t["sampling"]["sample_fps"] == trace.sampling.sample_fps  # floats survive exactly
    else:
        assert t["sampling"] is None
    assert [r["stage"] for r in doc["ledger"]][0] == "raw"


def test_json_with_an_encoder_run_lists_its_shapes(encoded):
    trace, enc = encoded
    doc = json.loads(to_json(trace, enc))
    e = doc["encoder"]
    assert e["random_weights"] is True and e["weights"].startswith("RANDOM")
    assert e["tensor_shapes"]["embeddings"] == list(enc.embeddings.shape)
    assert e["tensor_shapes"]["hidden_0"] == list(enc.hidden[0].shape)
    assert e["window_index"] == enc.window_index.tolist()
    assert e["config"]["window_size"] == 112


def test_npz_arrays_equal_the_trace(traces, tmp_path):
    trace = traces["qwen3_padded"]
    shapes = to_npz(trace, tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz", allow_pickle=False) as z:
        assert set(z.files) == set(shapes)
        assert np.array_equal(z["pixel_values"], trace.pixel_values.numpy()) and z["pixel_values"].dtype == np.float32
        assert np.array_equal(z["grid_thw"], [list(trace.patchify.grid_thw)])
        assert np.array_equal(z["input_ids"], trace.input_ids)
        assert np.array_equal(z["position_ids"], trace.position_ids) and z["position_ids"].shape[0] == 3
        assert np.array_equal(z["frame_indices"], trace.sampling.indices)
        assert np.array_equal(z["row_coords"], trace.patchify.row_coords().numpy())
        assert int(z["rope_deltas"]) == trace.rope.rope_deltas


def test_npz_with_embeddings_into_a_buffer(encoded):
    trace, enc = encoded
    buf = io.BytesIO()
    shapes = to_npz(trace, buf, enc)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        assert np.array_equal(z["embeddings"], enc.embeddings.numpy())
        assert np.array_equal(z["hidden_2"], enc.hidden[2].numpy())
        assert np.array_equal(z["window_index"], enc.window_index.numpy())
        assert bool(z["random_weights"]) and str(z["weights_source"]) == enc.weights_source
    assert shapes["embeddings"] == [trace.num_vision_tokens, enc.config.out_hidden_size]


def test_npz_to_an_unwritable_place_is_a_clear_error(traces, tmp_path):
    with pytest.raises(VizError) as e:
        to_npz(traces["image"], tmp_path / "missing" / "t.npz")
    assert e.value.field == "save"


@pytest.mark.parametrize("name", ["qwen2.5", "qwen3_padded", "image"])
def test_token_table_rows_are_the_prompt_tokens(traces, name):
    trace = traces[name]
    table = token_table(trace)
    assert len(table) == trace.prompt.num_tokens
    assert [r["token_id"] for r in table] == trace.input_ids.tolist()
    assert all(list(r) == list(TOKEN_COLUMNS) for r in table)
    assert [(r["t"], r["h"], r["w"]) for r in table] == [tuple(c) for c in trace.position_ids.T.tolist()]
    vision = [r for r in table if r["vision_token"] is not None]
    assert [r["vision_token"] for r in vision] == list(range(trace.num_vision_tokens))
    for r in vision[:: max(1, len(vision) // 25)]:  # the same links as a click on that token
        sel = select_token(trace, r["vision_token"])
        assert (r["index"], r["group"], r["row_first"], r["row_last"]) == (
            sel.input_index, sel.group, sel.block_rows[0], sel.block_rows[-1])
        assert (r["block_h"], r["block_w"]) == sel.block and r["timestamp"] == sel.seconds
        assert r["frames"] == [f.raw_index for f in sel.frames] and r["padding"] == any(f.padding for f in sel.frames)


@pytest.mark.parametrize("name", ["qwen2.5", "qwen3_padded", "image"])
def test_token_texts_join_to_the_prompt_text(traces, name):
    trace = traces[name]
    assert "".join(r["text"] for r in token_table(trace)) == trace.prompt.expanded_text


def test_padded_group_and_timestamps_in_the_table(traces):
    trace = traces["qwen3_padded"]
    last = [r for r in token_table(trace) if r["group"] == 2]
    assert last and all(r["padding"] for r in last)
    assert last[0]["timestamp"] == trace.prompt.timestamps[2]
    assert last[0]["frames"] == [trace.sampling.indices[-1]] * 2


def test_csv_has_one_line_per_token_and_reads_back(traces, tmp_path):
    trace = traces["qwen2.5"]  # its prompt has a newline and a non-ASCII letter
    n = to_csv(trace, tmp_path / "tokens.csv")
    text = (tmp_path / "tokens.csv").read_text(encoding="utf-8")
    assert n == trace.prompt.num_tokens == len(text.splitlines()) - 1
    rows = list(csv.DictReader(io.StringIO(text)))
    table = token_table(trace)
    assert [int(r["token_id"]) for r in rows] == trace.input_ids.tolist()
    k = next(i for i, r in enumerate(table) if r["vision_token"] == 7)
    assert rows[k]["vision_token"] == "7" and rows[k]["frames"] == ";".join(map(str, table[k]["frames"]))
    assert float(rows[k]["timestamp"]) == table[k]["timestamp"]
    assert rows[0]["vision_token"] == "" and "Zähle" in "".join(r["text"] for r in rows)
    assert "\\n" in "".join(r["text"] for r in rows)  # newlines escaped, one line per token
    buf = io.StringIO()
    assert to_csv(trace, buf) == n and buf.getvalue() == text
