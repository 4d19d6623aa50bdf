-- Seeded mutation fuzzing of torch.load for a chosen time (`make fuzz`):
--   build/th scripts/fuzz/serialization.lua [seconds=60] [seed=os.time()]
-- Mutates valid checkpoints (most mutations get their checksums repaired so they
-- reach the parser) and checks that each one loads or raises a clean torch.load
-- error. A failure prints the seed and iteration and keeps the file that caused it.
package.path = './?.lua;' .. package.path
local torch = require 'torch'
local Z = require 'spec.support.ser_fuzz'

local seconds = tonumber(arg[1]) or 60
local seed = tonumber(arg[2]) or os.time()
math.randomseed(seed)

local dir = os.tmpname()
os.remove(dir)
assert(os.execute('mkdir -p ' .. dir))
local path = dir .. '/fuzz.t7'

-- a few seeds: the spec's sample, a module, a deep table, scalars
local seeds = {}
local function add(obj)
  torch.save(path, obj)
  seeds[#seeds + 1] = Z.read(path)
end
add(Z.sample())
local ok_nn, nn = pcall(require, 'nn')
if ok_nn then add(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())) end
local deep = {}
local t = deep
for i = 1, 50 do t[i % 3 + 1] = {}; t = t[i % 3 + 1] end
add(deep)
add({ 1, -0.0, 'x', [2.5] = true, [false] = 0 / 0 })

local t0, n, loaded = os.clock(), 0, 0
local wall0 = os.time()
while os.time() - wall0 < seconds do
  n = n + 1
  local s = seeds[math.random(#seeds)]
  for _ = 1, math.random(1, 4) do s = Z.mutate(s, math.random) end
  if math.random() < 0.8 then s = Z.refix(s) end
  local ok, res = pcall(Z.try, path, s)
  if not ok then
    local keep = ('fuzz-crash-%d-%d.t7'):format(seed, n)
    Z.write(keep, s)
    io.stderr:write(('fuzz: seed %d iteration %d: %s (input kept in %s)\n'):format(seed, n, res, keep))
    os.exit(1)
  end
  if res then loaded = loaded + 1 end
end
os.execute('rm -rf ' .. dir)
print(('fuzz: %d mutated files in %ds (cpu %.1fs), %d loaded, %d rejected cleanly, seed %d')
  :format(n, seconds, os.clock() - t0, loaded, n - loaded, seed))
