-- torch.save / torch.load throughput on a state dict of float32 tensors (default
-- 16 tensors of 16M elements = 1 GiB), written next to the given path:
--   build/th scripts/bench/serialize.lua [mode=both|save|load] [ntensors=16] [numel=16777216] [path]
-- Save includes the fsync (the data is on disk when torch.save returns); load reads
-- what the save left, usually from the page cache. Run under `/usr/bin/time -v` with
-- mode save or load to see each one's peak RSS.
local torch = require 'torch'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

local mode = arg[1] or 'both'
local n = tonumber(arg[2]) or 16
local numel = tonumber(arg[3]) or (1 << 24)
local path = arg[4] or (os.getenv('TMPDIR') or '/tmp') .. '/ember_bench_serialize.t7'
local mb = n * numel * 4 / 1e6

if mode == 'both' or mode == 'save' then
  local sd = {}
  for i = 1, n do sd[('layer%d.weight'):format(i)] = torch.full({ numel }, i, { dtype = 'float32' }) end
  local t0 = torch.clock()
  torch.save(path, sd)
  emit('serialize', 'save_MBps', mb / (torch.clock() - t0), 'MB/s')
end
if mode == 'both' or mode == 'load' then
  local t0 = torch.clock()
  local sd = torch.load(path)
  emit('serialize', 'load_MBps', mb / (torch.clock() - t0), 'MB/s')
  assert(sd['layer1.weight']:numel() == numel)
end
if mode == 'both' then os.remove(path) end
