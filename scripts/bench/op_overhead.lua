-- Per-op framework overhead on 1-element float32 tensors (Lua loop overhead included).
-- Twin of ../shared/bench/pytorch/op_overhead.py.
local torch = require 'torch'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

local N, N_AUTOGRAD, WARMUP = 200000, 50000, 10000
-- the values do not matter here; torch.rand where the random family provides it
local function rand1() return torch.rand and torch.rand(1) or torch.full({ 1 }, 0.5) end
local a, b, c = rand1(), rand1(), torch.empty(1)

-- (a) allocating add: c = a + b
for _ = 1, WARMUP do c = a + b end
local t0 = torch.clock()
for _ = 1, N do c = a + b end
emit('op_overhead', 'add_alloc_us', (torch.clock() - t0) / N * 1e6, 'us/op')

-- (b) non-allocating add: torch.add(a, b, {out=c})
c = torch.empty(1)
local out = { out = c }
for _ = 1, WARMUP do torch.add(a, b, out) end
t0 = torch.clock()
for _ = 1, N do torch.add(a, b, out) end
emit('op_overhead', 'add_out_us', (torch.clock() - t0) / N * 1e6, 'us/op')

-- (c) autograd: y = (a*b + a):sum(); y:backward()   (.grad accumulates, never zeroed)
a, b = torch.rand(1, { requires_grad = true }), torch.rand(1, { requires_grad = true })
local y
for _ = 1, WARMUP do
  y = (a * b + a):sum()
  y:backward()
end
t0 = torch.clock()
for _ = 1, N_AUTOGRAD do
  y = (a * b + a):sum()
  y:backward()
end
emit('op_overhead', 'autograd_mul_add_sum_backward_us', (torch.clock() - t0) / N_AUTOGRAD * 1e6, 'us/iter')
