"""Scratch: where unguided variety goes. 200 unguided samples per setting, distinct-2, names, length."""
import collections, json, sys, time
import torch
torch.set_num_threads(1)
import dlmctl
from dlmctl.diversity import distinct_n
from dlmctl.fluency import sentence_scores  # noqa
settings = {
    "default": {},
    "c1": {"candidates": 1},
    "c1_t0": {"candidates": 1, "teacher_weight": 0.0, "repair": 0},
    "c1_temp1_w1": {"candidates": 1, "temperature": 1.0, "word_temperature": 1.0},
    "c4_t0": {"teacher_weight": 0.0, "repair": 0},
}
names = sys.argv[1:] or list(settings)
model = dlmctl.load()
for name in names:
    start = time.time()
    samples = model.generate(n=200, seed=0, show_progress=False, **settings[name])
    texts = [s.text for s in samples]
    first = collections.Counter(" ".join(t.split()[:2]) for t in texts)
    record = {"setting": name, "options": settings[name], "distinct2": round(distinct_n(texts), 3),
              "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
              "top_openings": first.most_common(5), "seconds": round(time.time() - start)}
    print(json.dumps(record), flush=True)
    with open(f"benchmarks/results/words42/div_probe/{name}.jsonl", "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
