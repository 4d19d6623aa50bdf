-- The files Ember writes for the interop check of safetensors and .npy
-- (scripts/fixtures/write_serial_formats.lua writes them; the specs rebuild the
-- same tensors and compare with spec/fixtures/serial_check.txt, the output of
-- `gen_serial_formats.py --check` run on those files).
local torch = require 'torch'

local S = {}

S.dtypes = { 'float64', 'float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool' }

-- Deterministic, exactly representable values (as the generator's values()).
function S.values(dtype, sizes)
  local n = 1
  for _, s in ipairs(sizes) do n = n * s end
  local i = torch.arange(n, { dtype = 'float64' })
  local t
  if dtype == 'bool' then
    t = (i:to('int64') % 3):eq(0)
  elseif dtype == 'uint8' then
    t = (i * 37 % 256):to('uint8')
  elseif dtype:match('^float') or dtype == 'bfloat16' then
    t = ((i - 5) * 0.25):to(dtype)
  else
    t = (i * 7 - 20):to(dtype)
  end
  return t:reshape(sizes)
end

-- {file = ..., npy = tensor} or {file = ..., safetensors = {name = tensor}, metadata = ...}
function S.cases()
  local cases = {}
  for _, dt in ipairs(S.dtypes) do
    if dt ~= 'bfloat16' then cases[#cases + 1] = { file = 'ember_' .. dt .. '.npy', npy = S.values(dt, { 2, 3 }) } end
  end
  cases[#cases + 1] = { file = 'ember_strided.npy', npy = S.values('float32', { 3, 4 }):t() }
  cases[#cases + 1] = { file = 'ember_scalar.npy', npy = S.values('float64', {}) }
  cases[#cases + 1] = { file = 'ember_empty.npy', npy = S.values('int32', { 0, 3 }) }
  cases[#cases + 1] = { file = 'ember_3d.npy', npy = S.values('int16', { 2, 3, 4 }) }
  local all = {}
  for _, dt in ipairs(S.dtypes) do all['w_' .. dt] = S.values(dt, { 3, 2 }) end
  all['strided'] = S.values('float32', { 2, 5 }):t()
  all['scalar'] = S.values('int64', {})
  all['empty'] = S.values('float16', { 2, 0 })
  all['odd'] = S.values('int8', { 5 })
  all['layer.0.weight'] = S.values('bfloat16', { 4 })
  cases[#cases + 1] = { file = 'ember_all.safetensors', safetensors = all,
    metadata = { format = 'pt', note = 'quote " and \u{e9}' } }
  cases[#cases + 1] = { file = 'ember_nometa.safetensors', safetensors = { x = S.values('float32', { 4 }) } }
  return cases
end

function S.write(dir)
  for _, c in ipairs(S.cases()) do
    local path = dir .. '/' .. c.file
    if c.npy then
      torch.save_npy(path, c.npy)
    else
      torch.save_safetensors(path, c.safetensors, c.metadata and { metadata = c.metadata } or nil)
    end
  end
end

-- The lines `gen_serial_formats.py --check` prints for these files, computed
-- from Ember's tensors.
local function crc_line(file, name, t)
  local dims = {}
  for i, s in ipairs(t:size()) do dims[i] = tostring(s) end
  return string.format('%s %s %s %s %08x', file, name, t.dtype, #dims > 0 and table.concat(dims, 'x') or 'scalar',
    torch._crc32(t))
end

-- file_crc(file) gives the CRC-32 of the file Ember just wrote.
function S.check_lines(file_crc)
  local lines = {}
  local cases = S.cases()
  table.sort(cases, function(a, b) return a.file < b.file end)
  for _, c in ipairs(cases) do
    lines[#lines + 1] = string.format('%s file_crc %08x', c.file, file_crc(c.file))
    if c.npy then
      lines[#lines + 1] = c.file .. ' numpy_bytes_identical yes'
      lines[#lines + 1] = crc_line(c.file, 'value', c.npy)
    else
      lines[#lines + 1] = c.file .. ' reference_bytes_identical yes'
      local keys = {}
      for k in pairs(c.metadata or {}) do keys[#keys + 1] = k end
      table.sort(keys)
      for _, k in ipairs(keys) do lines[#lines + 1] = c.file .. ' metadata ' .. k .. '=' .. c.metadata[k] end
      local names = {}
      for k in pairs(c.safetensors) do names[#names + 1] = k end
      table.sort(names)
      for _, k in ipairs(names) do lines[#lines + 1] = crc_line(c.file, k, c.safetensors[k]) end
    end
  end
  return lines
end

-- a file's bytes, and bytes written to a file
function S.slurp(p)
  local f = assert(io.open(p, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

function S.spit(p, s)
  local f = assert(io.open(p, 'wb'))
  f:write(s)
  f:close()
end

-- Loads `count` seeded random mutations (1 to 4 changed bytes) of the byte strings in
-- `goods` (taken in turn) from `path` with `load`: each must load or raise a Lua error
-- (a string), never crash.
function S.survives_mutations(goods, path, load, count, seed)
  local assert = require 'luassert'
  math.randomseed(seed)
  for i = 1, count do
    local s = goods[(i - 1) % #goods + 1]
    for _ = 1, math.random(1, 4) do
      local j = math.random(1, #s)
      s = s:sub(1, j - 1) .. string.char(math.random(0, 255)) .. s:sub(j + 1)
    end
    S.spit(path, s)
    local ok, err = pcall(load, path)
    if not ok then assert.are.equal('string', type(err)) end
  end
end

-- t has e's dtype and shape, is contiguous and holds exactly e's values
function S.assert_exact(t, e, what)
  local H = require 'spec.support.helpers'
  local assert = require 'luassert'
  assert.are.equal(e.dtype, t.dtype, what)
  assert.are.same(e.shape, { table.unpack(t:size()) }, what)
  assert.is_true(t:is_contiguous(), what)
  H.assert_close(t, e, { rtol = 0, atol = 0 })
end

return S
