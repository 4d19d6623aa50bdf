-- F.pad(x, {1, 1, 1, 1}, 'reflect') on (32, 64, 56, 56) float32: forward and
-- forward+backward (with a fixed output gradient), best of 5 after 2 warm-up calls.
-- Usage: build/th scripts/bench/pad_reflect.lua
local torch = require 'torch'
local F = require 'nn.functional'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

torch.manual_seed(0)
local x = torch.randn(32, 64, 56, 56, { requires_grad = true })
local g = torch.randn(32, 64, 58, 58)

local function forward()
  torch.no_grad(function() F.pad(x, { 1, 1, 1, 1 }, 'reflect') end)
end

local function forward_backward()
  x.grad = nil
  F.pad(x, { 1, 1, 1, 1 }, 'reflect'):backward(g)
end

local function best_ms(fn, warmup, trials)
  warmup, trials = warmup or 2, trials or 5
  for _ = 1, warmup do fn() end
  local best = math.huge
  for _ = 1, trials do
    collectgarbage()
    local t0 = torch.clock()
    fn()
    best = math.min(best, torch.clock() - t0)
  end
  return best * 1e3
end

emit('pad_reflect', 'forward_ms', best_ms(forward), 'ms')
emit('pad_reflect', 'forward_backward_ms', best_ms(forward_backward), 'ms')
