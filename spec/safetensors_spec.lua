-- safetensors (lua/torch/safetensors.lua) and the strict JSON reader under it:
-- reference files load with exact values, files Ember writes match what the
-- reference writer writes (checked by scripts/fixtures/gen_serial_formats.py
-- --check, output in spec/fixtures/serial_check.txt), hostile headers give errors.
local torch = require 'torch'
local json = require 'torch.json'
local H = require 'spec.support.helpers'
local S = require 'spec.support.serial_cases'

local here = debug.getinfo(1, 'S').source:sub(2):match('^(.*)/[^/]*$') or 'spec'
local FIX = here .. '/fixtures/serial/'
local expected = H.fixture('serial_formats')

local slurp, spit, assert_exact = S.slurp, S.spit, S.assert_exact

describe('safetensors', function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it('loads the reference implementation\'s own test file', function()
    for _, mmap in ipairs { true, false } do
      local t, meta = torch.load_safetensors(FIX .. 'reference.safetensors', { mmap = mmap })
      assert_exact(t['attn.0'], expected['reference.safetensors']['attn.0'])
      assert.are.same({}, meta)
    end
  end)

  it('loads every dtype with exact values, mapped or read', function()
    for _, mmap in ipairs { true, false } do
      local t, meta = torch.load_safetensors(FIX .. 'dtypes.safetensors', { mmap = mmap })
      local n = 0
      for name, e in pairs(expected['dtypes.safetensors']) do
        assert_exact(t[name], e, name)
        n = n + 1
      end
      for _ in pairs(t) do n = n - 1 end
      assert.are.equal(0, n)
      assert.are.same({ format = 'pt', note = 'quote " and \u{e9}' }, meta)
    end
  end)

  it('writes files that PyTorch reads back with the same values, laid out as the reference writes them', function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute('mkdir -p ' .. dir))
    S.write(dir)
    local lines = S.check_lines(function(file) return torch._crc32(slurp(dir .. '/' .. file)) end)
    local want = {}
    for line in slurp(here .. '/fixtures/serial_check.txt'):gmatch('[^\n]+') do want[#want + 1] = line end
    assert.are.same(want, lines)
    os.execute('rm -rf ' .. dir)
  end)

  it('round-trips every dtype, strided, empty and 0-d tensors, mapped and read', function()
    local t = {}
    for _, dt in ipairs(S.dtypes) do t[dt] = (torch.randn(3, 5) * 50):to(dt) end
    t.strided = torch.randn(4, 6):t()
    t.empty = torch.zeros(0, 3, { dtype = 'int16' })
    t.scalar = torch.tensor(3.25, { dtype = 'float64' })
    torch.save_safetensors(path, t, { metadata = { a = '1', [''] = '' } })
    for _, mmap in ipairs { true, false } do
      local r, meta = torch.load_safetensors(path, { mmap = mmap })
      for k, v in pairs(t) do
        assert.is_true(torch.equal(r[k], v), k)
        assert.are.equal(v.dtype, r[k].dtype)
      end
      assert.are.same({ a = '1', [''] = '' }, meta)
    end
  end)

  it('keeps mapped tensors valid after other tensors from the file are freed, and writable', function()
    torch.save_safetensors(path, { a = torch.arange(8):float(), b = torch.ones(3) })
    local r = torch.load_safetensors(path)
    local a = r.a
    r = nil
    collectgarbage()
    collectgarbage()
    a:add_(1)
    assert.is_true(torch.equal(a, torch.arange(8):float() + 1))
    -- the file is untouched by the write into the private mapping
    assert.is_true(torch.equal(torch.load_safetensors(path).a, torch.arange(8):float()))
  end)

  it('unmaps the file only when the last tensor using it is freed', function()
    if not io.open('/proc/self/maps') then return end
    local p = path .. '-maps.safetensors' -- a name no other test has mapped
    local function maps()
      local n = 0
      for l in io.lines('/proc/self/maps') do if l:find(p, 1, true) then n = n + 1 end end
      return n
    end
    torch.save_safetensors(p, { a = torch.ones(1000), b = torch.ones(10) })
    local r = torch.load_safetensors(p)
    os.remove(p)
    assert.are.equal(1, maps())
    local a = r.a
    r = nil
    collectgarbage(); collectgarbage()
    assert.are.equal(1, maps())
    assert.are.equal(1000, a:sum():item())
    a = nil
    collectgarbage(); collectgarbage()
    assert.are.equal(0, maps())
    assert.is_nil(a)
  end)

  it('writes atomically: a failing save leaves the previous file intact and no temporary', function()
    torch.save_safetensors(path, { a = torch.ones(2) })
    H.assert_error(function() torch.save_safetensors(path, { a = torch.ones(2), b = 'x' }) end, '"b" is a string, not a tensor')
    assert.is_true(torch.equal(torch.load_safetensors(path).a, torch.ones(2)))
    H.assert_error(function() torch.save_safetensors('/nonexistent-dir/x.safetensors', {}) end, 'cannot create')
  end)

  it('rejects bad arguments when saving', function()
    H.assert_error(function() torch.save_safetensors(path, torch.ones(2)) end, 'expected a table of {name = tensor}')
    H.assert_error(function() torch.save_safetensors(path, { [1] = torch.ones(2) }) end, 'names must be strings')
    H.assert_error(function() torch.save_safetensors(path, { __metadata__ = torch.ones(2) }) end, 'reserved')
    H.assert_error(function() torch.save_safetensors(path, {}, { metadata = { a = 1 } }) end, 'must be strings')
    H.assert_error(function() torch.save_safetensors(path, {}, { bogus = 1 }) end, 'unknown option bogus')
    H.assert_error(function() torch.save_safetensors(3, {}) end, 'expected a path string')
    H.assert_error(function() torch.load_safetensors('/nonexistent.safetensors') end, 'No such file')
  end)

  describe('hostile files', function()
    local good
    before_each(function()
      torch.save_safetensors(path, { a = torch.arange(4):float(), b = torch.ones(2, { dtype = 'int16' }) })
      good = slurp(path)
    end)

    local function with_header(h, data)
      h = h .. string.rep(' ', (8 - #h % 8) % 8)
      spit(path, string.pack('<I8', #h) .. h .. (data or string.rep('\0', 20)))
    end
    local function rejects(msg)
      for _, mmap in ipairs { true, false } do
        H.assert_error(function() torch.load_safetensors(path, { mmap = mmap }) end, msg)
      end
    end

    it('every truncation gives a clear error', function()
      for n = 0, #good - 1 do
        spit(path, good:sub(1, n))
        local ok, err = pcall(torch.load_safetensors, path)
        assert.is_false(ok, 'truncated to ' .. n)
        assert.is_truthy(tostring(err):find('load_safetensors', 1, true), err)
      end
    end)

    it('bad header lengths', function()
      spit(path, string.pack('<I8', 200000000) .. '{}')
      rejects('exceeds the 100000000-byte limit')
      spit(path, string.pack('<I8', 0xffffffffffffffff) .. '{}')
      rejects('exceeds')
      spit(path, string.pack('<I8', 64) .. '{}      ')
      rejects('runs past the end of the file')
      spit(path, '\1\0\0')
      rejects('too short')
    end)

    it('bad JSON', function()
      for _, h in ipairs { '{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]},}', '{"a":1,"a":2}', '[1]',
        '{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}} x', '{"a":"\1"}', '{"a\xff":1}' } do
        with_header(h)
        local ok, err = pcall(torch.load_safetensors, path)
        assert.is_false(ok, h)
        assert.is_truthy(err:find('load_safetensors', 1, true), err)
      end
      with_header(string.rep('[', 100) .. string.rep(']', 100))
      rejects("does not start with '{'")
      with_header('{"a":' .. string.rep('[', 100) .. string.rep(']', 100) .. '}')
      rejects('nested deeper')
    end)

    it('bad tensor entries and offsets', function()
      local e = '{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}'
      with_header(e)
      assert.are.equal(5, torch.load_safetensors(path).a:numel())
      with_header((e:gsub('F32', 'F31'))); rejects('unknown dtype "F31"')
      with_header((e:gsub('F32', 'U16'))); rejects('U16 has no Ember equivalent')
      with_header((e:gsub('%[5%]', '[6]'))); rejects('need 24 bytes, data_offsets give 20')
      with_header((e:gsub('%[5%]', '[-5]'))); rejects('non-negative')
      with_header((e:gsub('%[5%]', '[4611686018427387904,4]'))); rejects('need more than 2^62 bytes')
      with_header((e:gsub('%[0,20%]', '[20,0]'))); rejects('end 0 before they begin 20')
      with_header((e:gsub('%[0,20%]', '[0,20,1]'))); rejects('must have 2 entries')
      with_header((e:gsub('"shape"', '"extra":1,"shape"'))); rejects('unknown field "extra"')
      with_header(e, string.rep('\0', 24)); rejects('the tensors cover 20 bytes but the data section holds 24')
      -- overlapping and gapped tensors
      with_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        string.rep('\0', 12))
      rejects('"b": data_offsets [4, 12] overlap')
      with_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', string.rep('\0', 12))
      rejects('leave a gap')
      with_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', string.rep('\0', 4))
      rejects('run past the data section')
      with_header('{"__metadata__":{"k":1}}', ''); rejects('must be a string')
      with_header('{"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', '\1\2'); rejects('BOOL byte other than 0 or 1')
    end)

    it('never crashes on random byte mutations', function()
      S.survives_mutations({ good }, path, torch.load_safetensors, 300, 7)
    end)
  end)
end)

describe('torch.json', function()
  it('reads and writes JSON strictly', function()
    local v = json.decode(' {"a":[1,-2.5e1,true,false,null,"\\u00e9\\ud83d\\ude00\\n"],"b":{}} ')
    assert.are.equal(1, v.a[1])
    assert.are.equal('integer', math.type(v.a[1]))
    assert.are.equal(-25.0, v.a[2])
    assert.are.equal(json.null, v.a[5])
    assert.are.equal('\u{e9}\u{1F600}\n', v.a[6])
    assert.is_true(json.is_array(v.a))
    assert.are.equal('{"a":[1,2],"b":"x\\"\\u0001"}', json.encode { a = { 1, 2 }, b = 'x"\1' })
    for _, bad in ipairs { '', '{', '{"a"}', '{"a":1,}', '[01]', '[1.]', '[.5]', '["\\x"]', '["\\ud800"]',
      'nul', '{"a":1}{', '[1e]', '9223372036854775808', '{"a":1,"a":1}', '"\t"' } do
      local ok, err = pcall(json.decode, bad)
      assert.is_false(ok, bad)
      assert.is_truthy(err:match('^json: '), err)
    end
  end)
end)
