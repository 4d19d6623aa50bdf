-- Interpreter start-up with the framework loaded: the time a user waits before the
-- first line of a script runs. Twin of ../shared/bench/pytorch/startup.py: the median
-- wall time of 10 runs of `th -e "local t = require 'torch'"`.
local torch = require 'torch'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

-- the th running this script (compare passes its absolute path), else build/th
local th = arg and arg[-1] or 'build/th'
local cmd = ("'%s' -e \"local t = require 'torch'\""):format(th:gsub("'", "'\\''"))

local RUNS = 10
local times = {}
for i = 1, RUNS do
  local t0 = torch.clock()
  local ok = os.execute(cmd)
  times[i] = torch.clock() - t0
  if not ok then error('startup: `' .. cmd .. '` failed') end
end
table.sort(times)
emit('startup', 'import_ms', times[RUNS // 2 + 1] * 1e3, 'ms')
