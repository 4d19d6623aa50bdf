-- Robustness: every torch function and Tensor method, called with arguments of
-- wrong types, odd sizes, out-of-range dims and indices, must either work or raise
-- a Lua error -- never crash the process (run it under `make sanitize` too).
local torch = require 'torch'

-- functions whose valid-but-large arguments would only make the run slow, and the
-- writers (their argument checks are in their own specs)
local skip = {
  set_num_threads = true, seed = true, set_printoptions = true,
  -- writers: random string arguments would create files in the working directory
  save = true, save_npy = true, save_safetensors = true,
  progress = true, ProgressBar = true, -- write to stderr (spec/progress_spec.lua checks them)
}

local function make_values()
  local v = {
    n = nil, 0, 1, 2, 3, -1, -2, 5, 1.5, 0 / 0, 1 / 0, -1 / 0, 2 ^ 62, math.mininteger,
    true, false, 'float64', 'int64', 'bogus', '', {}, { 1, 2 }, { {}, 1 }, { { 1, 2 } },
    { -1 }, { 2, 0 }, { dim = 1 }, { keepdim = true }, { out = torch.zeros(2) },
    { dtype = 'int32' }, function() end,
    torch.zeros(0), torch.zeros(2, 3), torch.ones(3), torch.tensor(2.5),
    torch.tensor { 1, 2, 3 }, torch.tensor { 3, 1 }, torch.tensor { true, false, true },
    torch.zeros(2, 3):t(), torch.ones(1, 3):expand(4, 3), torch.zeros(2, 3, { dtype = 'float64' }),
    torch.tensor({ 1, 2 }, { dtype = 'uint8' }), torch.zeros(2, { dtype = 'float16' }),
    torch.zeros(2, 2, 2), torch.tensor { { 1, 0 }, { 0, 1 } },
  }
  return v
end

describe('fuzz', function()
  it('never crashes on random arguments', function()
    math.randomseed(12345)
    local names = {}
    for k, f in pairs(torch) do
      if type(f) == 'function' and not skip[k] then names[#names + 1] = { 'torch', k, f } end
    end
    for k, f in pairs(torch.Tensor_methods) do
      if type(f) == 'function' and not skip[k] then names[#names + 1] = { 'method', k, f } end
    end
    table.sort(names, function(a, b) return a[1] .. a[2] < b[1] .. b[2] end)
    local calls, errors = 0, 0
    for _, entry in ipairs(names) do
      local f = entry[3]
      for _ = 1, 40 do
        local values = make_values()
        local nargs = math.random(0, 4)
        local args = {}
        if entry[1] == 'method' then
          args[1] = values[math.random(#values - 14, #values)] -- a tensor as self
        end
        for i = #args + 1, nargs + #args do args[i] = values[math.random(#values)] end
        local ok, err = pcall(f, table.unpack(args, 1, math.max(nargs, #args)))
        torch.set_grad_enabled(true) -- set_grad_enabled(false) may have been fuzzed
        calls = calls + 1
        if not ok then
          errors = errors + 1
          assert(type(err) == 'string' or type(err) == 'table',
            entry[2] .. ' raised a non-string error: ' .. tostring(err))
        end
      end
    end
    assert.is_true(calls > 100)
    assert.is_true(errors > 0)
  end)
end)
