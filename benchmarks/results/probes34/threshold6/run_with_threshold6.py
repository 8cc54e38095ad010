import runpy, sys
import dlmctl.rerank as rerank
from dlmctl.fluency import fluent
rerank.fluent = lambda scores: fluent(scores, 6.0)
sys.argv = ['benchmarks/controls.py'] + sys.argv[1:]
sys.path.insert(0, 'benchmarks')
runpy.run_path('benchmarks/controls.py', run_name='__main__')
