-- Optimizer step cost: ten Linear(1000,1000) layers (10.01M parameters) with gradients
-- present. ms per opt:step() for SGD with momentum 0.9 and for Adam, median of 20 after
-- 3 warm-ups. Twin of ../shared/bench/pytorch/optim_step.py (same model, metrics, JSON lines).
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

torch.manual_seed(0)
local layers = {}
for i = 1, 10 do layers[i] = nn.Linear(1000, 1000) end
local model = nn.Sequential(table.unpack(layers))
for _, p in ipairs(model:parameters()) do p.grad = torch.randn(p:size()) end

local function time_steps(opt, n, warmup)
  n, warmup = n or 20, warmup or 3
  for _ = 1, warmup do opt:step() end
  local times = {}
  for i = 1, n do
    local t0 = torch.clock()
    opt:step()
    times[i] = torch.clock() - t0
  end
  table.sort(times)
  local med = n % 2 == 1 and times[(n + 1) // 2] or (times[n // 2] + times[n // 2 + 1]) / 2
  return med * 1e3
end

emit('optim_step', 'sgd_momentum_ms', time_steps(optim.SGD(model:parameters(), { lr = 1e-3, momentum = 0.9 })), 'ms')
emit('optim_step', 'adam_ms', time_steps(optim.Adam(model:parameters(), { lr = 1e-3 })), 'ms')
