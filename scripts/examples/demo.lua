-- A short tour of Ember, run by `make run` (build/th scripts/examples/demo.lua).
-- Each step runs only when the feature it shows is there, so the tour works
-- at every stage of the project. Run build/th alone for the REPL.
local function section(title) print(('\n-- %s %s'):format(title, ('-'):rep(60 - #title))) end
local function show(label, fn)
  local ok, v = pcall(fn)
  print(('%-30s %s'):format(label, ok and tostring(v):gsub('\n', '\n' .. (' '):rep(31)) or '(not yet: ' .. tostring(v) .. ')'))
end
local function sizes(t) return table.concat(t:size(), 'x') end

print(('Ember %s on Lua %s'):format(torch._VERSION, _VERSION:match('%d.%d')))

section('creating tensors')
local x = torch.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
show('torch.tensor{{1,2,3},{4,5,6}}', function() return x end)
show('x:size(), x.dtype', function() return sizes(x) .. ', ' .. x.dtype end)
show('torch.zeros(2, 3)', function() return torch.zeros(2, 3) end)
show('torch.ones{4}:float()', function() return torch.ones { 4 }:float():type() end)
show('{dtype=torch.float64}', function() return torch.zeros(2, { dtype = torch.float64 }).dtype end)
show('torch.tensor{1.5, 2}.dtype', function() return torch.tensor { 1.5, 2 }.dtype end)

section('1-based indexing')
show('x[1] (the first row): size', function() return sizes(x[1]) end)
show('x[2][3]', function() return x[2][3] end)
show('x:size(1), x:size(-1)', function() return x:size(1) .. ', ' .. x:size(-1) end)
show('x:tolist()[2][1]', function() return x:tolist()[2][1] end)

section('views share storage')
local t = x:t()
show('x:t() size', function() return sizes(t) end)
show('x:t():is_contiguous()', function() return t:is_contiguous() end)
show('x:t():is_set_to(x)', function() return t:is_set_to(x) end)
show('x:view(3, 2):tolist()', function()
  local rows = {}
  for i, r in ipairs(x:view(3, 2):tolist()) do rows[i] = '{' .. table.concat(r, ', ') .. '}' end
  return '{' .. table.concat(rows, ', ') .. '}'
end)
show('x:narrow(2, 2, 2) size', function() return sizes(x:narrow(2, 2, 2)) end)
show('x:unsqueeze(1) size', function() return sizes(x:unsqueeze(1)) end)

section('math')
local y = x:float()
local ops = {
  { 'x + x', function() return y + y end, torch.add },
  { 'x * 2', function() return y * 2 end, torch.mul },
  { 'x:sum()', function() return y:sum() end, torch.sum },
  { 'x:mean(2)', function() return y:mean(2) end, torch.mean },
  { 'x:matmul(x:t())', function() return y:matmul(y:t()) end, torch.matmul },
  { 'torch.arange(1, 5)', function() return torch.arange(1, 5) end, torch.arange },
}
local shown = 0
for _, op in ipairs(ops) do
  if op[3] then
    show(op[1], op[2])
    shown = shown + 1
  end
end
if shown == 0 then print('(math ops arrive in later issues)') end

section('the REPL')
print('build/th opens the REPL: Tab completes (torch.ze<Tab>, x:si<Tab>),')
print('expressions print their values, a trailing ; silences them, Ctrl-C stops')
print('a running loop, Ctrl-D exits. build/th script.lua args... runs a script.')
