"""Scratch: the teachers as a veto (only words they find unlikely lose) instead of a product of experts.
python probe.py NAME FLOOR [n] : FLOOR nats (0: today's product); 200 unguided samples, distinct-2, names."""
import collections, json, sys, time
import torch
torch.set_num_threads(1)
import dlmctl
from dlmctl import sampling
from dlmctl.diversity import distinct_n
from dlmctl.fluency import next_word_bias, previous_word_bias, sentence_scores
from dlmctl.teacher import model_teacher

name, floor = sys.argv[1], float(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200

def with_teacher(self, scores, bias):
    words = (scores if bias is None else scores + bias).argmax(-1)
    log_probs = next_word_bias(self.teacher, words)
    if floor:
        log_probs = (log_probs + floor).clamp(max=0)
    if self.reverse_teacher is not None:
        back = previous_word_bias(self.reverse_teacher, words)
        log_probs = log_probs + ((back + floor).clamp(max=0) if floor else back)
    nudge = self.config.teacher_weight * log_probs
    return nudge if bias is None else bias + nudge

sampling.Sampler.with_teacher = with_teacher
model = dlmctl.load()
start = time.time()
samples = model.generate(n=n, seed=0, show_progress=False)
texts = [s.text for s in samples]
teacher = model_teacher(model.lm)
worst = sentence_scores(teacher, [t.split() for t in texts])
openings = collections.Counter(" ".join(t.split()[:2]) for t in texts)
print(json.dumps({"setting": name, "floor": floor, "distinct2": round(distinct_n(texts), 3),
                  "fluent6": round((worst <= 6).float().mean().item(), 3), "under45": round((worst <= 4.5).float().mean().item(), 3),
                  "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
                  "names": len(openings), "top": openings.most_common(4), "seconds": round(time.time() - start)}), flush=True)
with open(f"benchmarks/results/words42/veto_probe/{name}.jsonl", "w") as f:
    for t in texts:
        f.write(json.dumps({"text": t}) + "\n")
