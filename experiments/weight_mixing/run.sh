#!/usr/bin/env bash
# SPHINX's weight mixing on the demo world (experiments/weight_mixing/README.md): a base trained on
# captions, two runs fine-tuned from it on different subsets (VQA only, REC only), their mixes
# theta = beta * VQA + (1 - beta) * REC, each evaluated on the held-out VQA and REC questions.
# Usage: bash experiments/weight_mixing/run.sh [OUT_DIR]   (CPU; STEPS, LIMIT override the sizes)
set -euo pipefail
OUT=${1:-runs/weight_mixing}
STEPS=${STEPS:-150}      # optimizer steps of each training run
BATCH=${BATCH:-8}        # global batch (one micro-batch of 8)
LIMIT=${LIMIT:-200}      # held-out questions per benchmark
PY=${PYTHON:-.venv/bin/python}
DEMO=$OUT/demo_world
mkdir -p "$OUT/data"

# The demo corpus (the same generator and seed as `make demo`), and its three task subsets.
[ -f "$DEMO/manifest.json" ] || "$PY" -m sphinx_x.demo.world --out "$DEMO" --train 1500 --heldout 200 --seed 0
"$PY" - "$DEMO" "$OUT/data" <<'PYEOF'
import json, sys
from pathlib import Path
demo, out = Path(sys.argv[1]), Path(sys.argv[2])
records = json.loads((demo / "llava_train.json").read_text())
for task in ("caption", "vqa", "grounding"):
    subset = [r for r in records if r["id"].endswith("_" + task)]
    (out / f"{task}.json").write_text(json.dumps(subset))
    print(f"{task}: {len(subset)} records")
PYEOF

train() {  # NAME SUBSET [overrides...]
  local name=$1 subset=$2; shift 2
  [ -f "$OUT/$name/export/model.safetensors" ] && return
  "$PY" -m sphinx_x.train experiment=demo demo_world=null paths.demo_dir="$DEMO" hydra.run.dir="$OUT/$name/run" \
    data.sources.demo_llava.path="$(realpath "$OUT/data/$subset.json")" trainer.max_steps="$STEPS" \
    global_batch_size="$BATCH" data.micro_batch_size="$BATCH" \
    trainer.val_check_interval=null callbacks.benchmark_validation=null trainer.enable_progress_bar=false "$@"
  "$PY" -m sphinx_x.export "$OUT/$name/run" "$OUT/$name/export"
}
train base caption
BASE=$(realpath "$OUT/base/export")
train vqa vqa model.init_from="$BASE"
train rec grounding model.init_from="$BASE"

for beta in 0.25 0.5 0.75; do
  [ -f "$OUT/mix_$beta/model.safetensors" ] || "$PY" -m sphinx_x.mix "$OUT/vqa/export" "$OUT/rec/export" "$OUT/mix_$beta" --beta "$beta"
done

for model in base/export vqa/export mix_0.75 mix_0.5 mix_0.25 rec/export; do
  name=${model%/export}
  [ -f "$OUT/eval/$name/scores/demo_rec.json" ] && continue
  "$PY" -m sphinx_x.evaluate ckpt_path="$OUT/$model" paths.demo_dir="$DEMO" benchmarks=[demo_vqa,demo_rec] \
    limit="$LIMIT" batch_size=32 device=cpu hydra.run.dir="$OUT/eval/$name"
done

"$PY" - "$OUT" <<'PYEOF'
import json, re, sys
from pathlib import Path
out = Path(sys.argv[1])
box = re.compile(r"\[\s*-?[\d.]+\s*,\s*-?[\d.]+\s*,\s*-?[\d.]+\s*,\s*-?[\d.]+\s*\]")
rows = {"base (captions)": "base", "VQA run (beta=1)": "vqa", "mix beta=0.75": "mix_0.75", "mix beta=0.5": "mix_0.5",
        "mix beta=0.25": "mix_0.25", "REC run (beta=0)": "rec"}
table = {}
print("| model | demo_vqa accuracy | VQA answers that are 1-2 words | demo_rec Acc@0.5 | REC answers that are a box |")
print("|---|---|---|---|---|")
for label, name in rows.items():
    scores = {b: json.loads((out / "eval" / name / "scores" / f"{b}.json").read_text())["scores"]
              for b in ("demo_vqa", "demo_rec")}
    preds = {b: [json.loads(line)["prediction"] for line in (out / "eval" / name / "predictions" / f"{b}.jsonl").open()]
             for b in ("demo_vqa", "demo_rec")}
    words = sum(0 < len(p.split()) <= 2 and "[" not in p for p in preds["demo_vqa"]) / len(preds["demo_vqa"])
    boxes = sum(bool(box.search(p)) for p in preds["demo_rec"]) / len(preds["demo_rec"])
    table[label] = {**scores, "vqa_word_answers": words, "rec_box_answers": boxes}
    print(f"| {label} | {scores['demo_vqa']['accuracy']:.3f} | {words:.2f} | {scores['demo_rec']['accuracy']:.3f} | {boxes:.2f} |")
(out / "results.json").write_text(json.dumps(table, indent=2))
PYEOF
