"""Language readers: UltraChat, OpenOrca, MetaMathQA, MathInstruct / WizardCoder (alpaca), Flan-mini."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from tests.testkit.files import write_json, write_jsonl
from tests.testkit.sources import load_spec, read, turns


def test_ultrachat_reads_every_jsonl_in_the_folder_and_drops_an_unanswered_last_turn(tmp_path):
    write_jsonl(tmp_path / "ultrachat" / "train_0.jsonl", [
        {"id": "0", "data": ["Hi, who are you?", "I am an assistant.", "What can you do?", "Answer questions."]},
        {"id": "1", "data": ["Tell me a joke.", "Why did the chicken cross the road?", "Why?"]},
        {"id": "2", "data": ["Only a question"]},
        {"id": "3", "data": ["A question", "   "]},
        {"id": "4"},
    ])
    write_jsonl(tmp_path / "ultrachat" / "train_1.jsonl", [{"id": "5", "data": ["Q", "A"]}, "{not json"])
    (tmp_path / "ultrachat" / "README.md").write_text("ignored")

    records, errors = read(load_spec("ultrachat", tmp_path))

    assert records == [
        {"id": "ultrachat/0", "source": "ultrachat", "task": "dialogue", "images": [],
         "messages": turns("Hi, who are you?", "I am an assistant.", "What can you do?", "Answer questions.")},
        {"id": "ultrachat/1", "source": "ultrachat", "task": "dialogue", "images": [],
         "messages": turns("Tell me a joke.", "Why did the chicken cross the road?")},
        {"id": "ultrachat/5", "source": "ultrachat", "task": "dialogue", "images": [], "messages": turns("Q", "A")},
    ]
    assert errors == [("empty_conversation", "ultrachat/2"), ("empty_turn", "ultrachat/3"),
                      ("missing_field", "ultrachat/4"), ("malformed_json", "train_1.jsonl:2")]


def test_openorca_reads_parquet_and_keeps_the_system_prompt(tmp_path):
    rows = [
        {"id": "niv.242684", "system_prompt": "You are an AI assistant.", "question": "Translate: hola",
         "response": "hello"},
        {"id": "t0.1", "system_prompt": "", "question": "2+2?", "response": "4"},
        {"id": "cot.9", "system_prompt": "", "question": "Why?", "response": ""},
    ]
    (tmp_path / "openorca").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "openorca" / "1M-GPT4-Augmented.parquet")

    records, errors = read(load_spec("openorca", tmp_path))

    assert records == [
        {"id": "openorca/niv.242684", "source": "openorca", "task": "dialogue", "images": [],
         "messages": [{"role": "system", "content": "You are an AI assistant."},
                      *turns("Translate: hola", "hello")]},
        {"id": "openorca/t0.1", "source": "openorca", "task": "dialogue", "images": [], "messages": turns("2+2?", "4")},
    ]
    assert errors == [("empty_turn", "openorca/cot.9")]


def test_metamathqa_uses_query_and_response(tmp_path):
    write_json(tmp_path / "MetaMathQA" / "MetaMathQA-395K.json", [
        {"query": "What is 3 + 4?", "response": "3 + 4 = 7.\nThe answer is: 7", "type": "GSM_Rephrased",
         "original_question": "Add 3 and 4."},
        {"query": "No answer here", "type": "MATH_AnsAug", "original_question": "?"},
    ])

    records, errors = read(load_spec("metamathqa", tmp_path))

    assert records == [{"id": "metamathqa/0", "source": "metamathqa", "task": "math", "images": [],
                        "messages": turns("What is 3 + 4?", "3 + 4 = 7.\nThe answer is: 7")}]
    assert errors == [("missing_field", "metamathqa/1")]


def test_mathinstruct_and_wizardcoder_share_the_alpaca_reader(tmp_path):
    write_json(tmp_path / "MathInstruct" / "MathInstruct.json", [
        {"source": "data/CoT/gsm_rft.json", "output": "Half of 10 is 5. The answer is 5.",
         "instruction": "What is half of 10?"},
    ])
    write_json(tmp_path / "wizardcoder" / "EvolInstruct-Code-80k.json", [
        {"instruction": "Write a Python function that adds two numbers.", "output": "def add(a, b):\n    return a + b"},
        {"instruction": "Fix the bug.", "input": "def f(x) return x", "output": "def f(x):\n    return x"},
        {"instruction": "", "output": "orphan"},
    ])

    math_records, math_errors = read(load_spec("mathinstruct", tmp_path))
    code_records, code_errors = read(load_spec("wizardcoder", tmp_path))

    assert math_records == [{"id": "mathinstruct/0", "source": "mathinstruct", "task": "math", "images": [],
                             "messages": turns("What is half of 10?", "Half of 10 is 5. The answer is 5.")}]
    assert math_errors == []
    assert code_records == [
        {"id": "wizardcoder/0", "source": "wizardcoder", "task": "code", "images": [],
         "messages": turns("Write a Python function that adds two numbers.", "def add(a, b):\n    return a + b")},
        {"id": "wizardcoder/1", "source": "wizardcoder", "task": "code", "images": [],
         "messages": turns("Fix the bug.\n\ndef f(x) return x", "def f(x):\n    return x")},
    ]
    assert code_errors == [("empty_turn", "wizardcoder/2")]


def test_flan_mini_is_read_by_the_sharegpt_reader(tmp_path):
    write_json(tmp_path / "flan_mini" / "flan_mini.json", [
        {"id": "flan2022.7", "source": "cot", "conversations": [
            {"from": "human", "value": "Is the sky blue?"}, {"from": "gpt", "value": "Yes."}]},
    ])

    records, errors = read(load_spec("flan_mini", tmp_path))

    assert records == [{"id": "flan_mini/flan2022.7", "source": "flan_mini", "task": "dialogue", "images": [],
                        "messages": turns("Is the sky blue?", "Yes.")}]
    assert errors == []
