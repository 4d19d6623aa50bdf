-- A short tour of Ember, run by `make run` (build/th scripts/examples/demo.lua).
-- Everything here is 1-based: indices, dims, max/sort indices, randperm.
-- Run build/th alone for the REPL.
local function section(title) print(('\n-- %s %s'):format(title, ('-'):rep(60 - #title))) end
local function show(label, v)
  print(label)
  print('  ' .. tostring(v):gsub('\n', '\n  '))
end

print(('Ember %s on %s'):format(torch._VERSION, _VERSION))

section('creating tensors')
local x = torch.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
show('x = torch.tensor{{1,2,3},{4,5,6}}  -- Lua integers give int64', x)
show('x.shape, x.dtype', tostring(x.shape) .. ', ' .. x.dtype)
show('torch.zeros(2, 3, {dtype = "float64"})', torch.zeros(2, 3, { dtype = 'float64' }))
show('torch.arange(1, 7):view(2, 3):float() / 4', torch.arange(1, 7):view(2, 3):float() / 4)
show('torch.linspace(0, 1, 5)', torch.linspace(0, 1, 5))

section('1-based indexing and views')
show('x[2]  -- the second row, a view', x[2])
show('x[2][3], x[{1, -1}]  -- Lua numbers', x[2][3] .. ', ' .. x[{ 1, -1 }])
show('x[{{}, {2, 3}}]  -- all rows, columns 2..3', x[{ {}, { 2, 3 } }])
show('x:t()  -- transposed view, no copy', x:t())
show('x[x:gt(3)]  -- boolean mask', x[x:gt(3)])
local y = x:clone()
y[{ 1, {} }] = 0
show('y[{1, {}}] = 0', y)

section('math with broadcasting and type promotion')
local f = x:float()
show('f * 2 + torch.tensor{10, 20, 30}', f * 2 + torch.tensor { 10, 20, 30 })
show('x + 0.5  -- int64 with a Lua float gives float32', (x + 0.5).dtype)
show('f:exp():log():sub(f):abs():max()', f:exp():log():sub(f):abs():max())

section('reductions, sorting, linear algebra')
show('f:sum(), f:mean(2)', tostring(f:sum()) .. '\n' .. tostring(f:mean(2)))
local v, i = f:max(2)
show('f:max(2)  -- values and 1-based indices', tostring(v) .. '\n' .. tostring(i))
show('f:mm(f:t())', f:mm(f:t()))
show("torch.einsum('ij,kj->ik', f, f)", torch.einsum('ij,kj->ik', f, f))
local s, order = torch.tensor { 3.5, -1, 2 }:sort()
show('torch.tensor{3.5, -1, 2}:sort()', tostring(s) .. '\n' .. tostring(order))
show('f:softmax(2)', f:softmax(2))

section('random numbers repeat with a seed')
torch.manual_seed(42)
show('torch.manual_seed(42); torch.randn(2, 3)', torch.randn(2, 3))
show('torch.randperm(6)  -- a permutation of 1..6', torch.randperm(6))

section('memory')
for _ = 1, 200 do local big = torch.empty(1000, 1000):fill_(1) end
local m = torch.memory_stats()
show('200 allocations of 4 MB, then torch.memory_stats()',
  ('allocated %d MB, cached %d MB, %d of %d allocations went to the system'):format(
    m.allocated_bytes >> 20, m.cached_bytes >> 20, m.num_system_allocs, m.num_allocs))

section('the REPL')
print('build/th opens the REPL: Tab completes (torch.ze<Tab>, x:si<Tab>),')
print('expressions print their values, a trailing ; silences them, Ctrl-C stops')
print('a running loop, Ctrl-D exits. build/th script.lua args... runs a script.')
