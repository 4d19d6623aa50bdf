-- Conv2d(64,64,3,padding=1) on (32,64,56,56) fp32: forward and forward+backward, best of 5
-- after 2 warm-up calls. Twin of ../shared/bench/pytorch/conv_layer.py (same sizes, loop and
-- JSON lines). The layer is its functional form with PyTorch's default initialisation
-- bounds (kaiming-uniform with a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both).
local torch = require 'torch'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

torch.manual_seed(0)
local fan_in = 64 * 3 * 3
local bound = 1 / math.sqrt(fan_in)
local weight = (torch.rand(64, 64, 3, 3) * 2 - 1) * bound
local bias = (torch.rand(64) * 2 - 1) * bound
weight:requires_grad_()
bias:requires_grad_()
local x = torch.randn(32, 64, 56, 56, { requires_grad = true })
local flops_fwd = 2 * 32 * 64 * 64 * 3 * 3 * 56 * 56 -- 7.40 GFLOP (MACs x 2, bias ignored)

local function conv(input)
  return torch.conv2d(input, weight, bias, { padding = 1 })
end

local function forward()
  torch.no_grad(function() conv(x) end) -- pure inference forward, no graph recorded
end

local function forward_backward()
  weight.grad, bias.grad = nil, nil -- zero_grad(set_to_none=True)
  x.grad = nil
  conv(x):sum():backward() -- grads w.r.t. input, weight and bias
end

local function best_ms(fn, warmup, trials)
  warmup, trials = warmup or 2, trials or 5
  for _ = 1, warmup do fn() end
  local best = math.huge
  for _ = 1, trials do
    local t0 = torch.clock()
    fn()
    best = math.min(best, torch.clock() - t0)
  end
  return best * 1e3
end

local fwd = best_ms(forward)
local fwd_bwd = best_ms(forward_backward)
emit('conv_layer', 'forward_ms', fwd, 'ms')
emit('conv_layer', 'forward_gflops', flops_fwd / fwd / 1e6, 'GFLOP/s')
emit('conv_layer', 'forward_backward_ms', fwd_bwd, 'ms')
emit('conv_layer', 'forward_backward_gflops', 3 * flops_fwd / fwd_bwd / 1e6, 'GFLOP/s') -- bwd = 2x fwd FLOPs
