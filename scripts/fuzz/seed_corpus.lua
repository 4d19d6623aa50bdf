-- Seeds the libFuzzer corpus (`make fuzz-libfuzzer`): copies the reader fixtures
-- (spec/fixtures/pt, spec/fixtures/serial) and adds small files Ember writes in
-- each format. build/th scripts/fuzz/seed_corpus.lua <corpus dir>
package.path = './?.lua;' .. package.path
local torch = require 'torch'
local Z = require 'spec.support.ser_fuzz'

local dir = assert(arg[1], 'usage: seed_corpus.lua <corpus dir>')
local n = 0
local function put(name, bytes)
  if #bytes <= 65536 then
    Z.write(dir .. '/seed-' .. name, bytes)
    n = n + 1
  end
end

for _, sub in ipairs { 'spec/fixtures/pt', 'spec/fixtures/serial' } do
  local p = io.popen('ls ' .. sub)
  for name in p:lines() do put(name, Z.read(sub .. '/' .. name)) end
  p:close()
end

local tmp = os.tmpname()
local function saved(name, fn)
  fn(tmp)
  put(name, Z.read(tmp))
end
saved('sample.t7', function(p) torch.save(p, Z.sample()) end)
local ok_nn, nn = pcall(require, 'nn')
if ok_nn then
  saved('net.t7', function(p) torch.save(p, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())) end)
end
saved('small.t7', function(p) torch.save(p, { 1, -0.0, 'x', [2.5] = true, w = torch.arange(6):view(2, 3):t() }) end)
saved('ember.safetensors', function(p)
  torch.save_safetensors(p, { a = torch.arange(6, { dtype = 'float32' }):view(2, 3), b = torch.ones(2, { dtype = 'bfloat16' }) },
    { metadata = { k = 'v' } })
end)
saved('ember.npy', function(p) torch.save_npy(p, torch.arange(12, { dtype = 'int16' }):view(3, 4)) end)
os.remove(tmp)
print(('seed corpus: %d files in %s'):format(n, dir))
