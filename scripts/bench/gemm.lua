-- fp32 square GEMM C = A @ B: GFLOP/s = 2n^3 / time, best of 5 timed trials after
-- warm-up. Twin of ../shared/bench/pytorch/gemm.py (same sizes, trials, JSON lines).
local torch = require 'torch'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

-- Calls per trial are chosen so each trial lasts about 0.2 s; the best trial counts.
local function best_time_per_call(fn, min_trial_s, trials)
  min_trial_s, trials = min_trial_s or 0.2, trials or 5
  fn() -- warm-up
  local t0 = torch.clock(); fn(); local once = torch.clock() - t0
  local reps = math.max(1, math.floor(min_trial_s / math.max(once, 1e-9)))
  local best = math.huge
  for _ = 1, trials do
    t0 = torch.clock()
    for _ = 1, reps do fn() end
    best = math.min(best, (torch.clock() - t0) / reps)
  end
  return best
end

-- Values do not change GEMM speed; torch.randn where the random family provides it.
local function randn(n)
  if torch.randn then return torch.randn(n, n) end
  return torch.full({ n, n }, 0.5)
end

for _, n in ipairs { 256, 1024, 2048 } do
  local a, b = randn(n), randn(n)
  local c = torch.empty(n, n)
  local t = best_time_per_call(function() c = torch.mm(a, b) end)
  emit('gemm', ('torch_mm_n%d_gflops'):format(n), 2 * n ^ 3 / t / 1e9, 'GFLOP/s')
  emit('gemm', ('torch_mm_n%d_ms'):format(n), t * 1e3, 'ms')
end
