-- .npy / .npz (lua/torch/numpy.lua) and the zip reader under .npz (lua/torch/zip.lua):
-- files numpy wrote load with exact values (every dtype, both byte orders,
-- versions 1-3, Fortran order, stored and deflated archives), files Ember writes
-- are byte-identical to numpy.save's (spec/fixtures/serial_check.txt), and
-- hostile files give clear errors.
local torch = require 'torch'
local zip = require 'torch.zip'
local H = require 'spec.support.helpers'
local S = require 'spec.support.serial_cases'

local here = debug.getinfo(1, 'S').source:sub(2):match('^(.*)/[^/]*$') or 'spec'
local FIX = here .. '/fixtures/serial/'
local expected = H.fixture('serial_formats')

local slurp, spit, assert_exact = S.slurp, S.spit, S.assert_exact

describe('.npy', function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it('loads every file numpy wrote with exact values', function()
    local n = 0
    for file, e in pairs(expected) do
      if file:match('%.npy$') then
        assert_exact(torch.load_npy(FIX .. file), e.value, file)
        n = n + 1
      end
    end
    assert.is_true(n >= 25)
  end)

  it('widens unsigned types Ember lacks, and refuses uint64 values past int64', function()
    assert.are.equal('int32', torch.load_npy(FIX .. 'np_u2.npy').dtype)
    assert.are.equal('int32', torch.load_npy(FIX .. 'np_be_u2.npy').dtype)
    assert.are.equal('int64', torch.load_npy(FIX .. 'np_u4.npy').dtype)
    assert.are.equal(65280 + 185, torch.load_npy(FIX .. 'np_u2.npy'):max():item())
    H.assert_error(function() torch.load_npy(FIX .. 'np_u8_big.npy') end, '2^63 or more')
  end)

  it('writes files numpy reads back, byte-identical to numpy.save', function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute('mkdir -p ' .. dir))
    S.write(dir)
    local lines = S.check_lines(function(file) return torch._crc32(slurp(dir .. '/' .. file)) end)
    local want = {}
    for line in slurp(here .. '/fixtures/serial_check.txt'):gmatch('[^\n]+') do
      if line:match('^%S+%.npy ') then want[#want + 1] = line end
    end
    local got = {}
    for _, line in ipairs(lines) do
      if line:match('^%S+%.npy ') then got[#got + 1] = line end
    end
    assert.are.same(want, got)
    os.execute('rm -rf ' .. dir)
  end)

  it('round-trips every numpy dtype, strided, empty and 0-d tensors', function()
    for _, dt in ipairs(S.dtypes) do
      if dt ~= 'bfloat16' then
        for _, t in ipairs { (torch.randn(3, 4) * 100):to(dt), (torch.randn(4, 3) * 100):to(dt):t(),
          torch.zeros(0, 2, { dtype = dt }), torch.tensor(1, { dtype = dt }) } do
          torch.save_npy(path, t)
          local r = torch.load_npy(path)
          assert.are.equal(dt, r.dtype)
          assert.is_true(torch.equal(r, t), dt)
        end
      end
    end
    H.assert_error(function() torch.save_npy(path, torch.ones(2, { dtype = 'bfloat16' })) end, 'numpy has no bfloat16 dtype')
    H.assert_error(function() torch.save_npy(path, 3) end, 'expected a tensor')
    H.assert_error(function() torch.load_npy('/nonexistent.npy') end, 'No such file')
  end)

  describe('hostile files', function()
    local good = slurp(FIX .. 'np_f4.npy')
    local function with_dict(dict, data, version)
      version = version or 1
      dict = dict .. '\n'
      spit(path, '\x93NUMPY' .. string.char(version, 0) .. string.pack(version == 1 and '<I2' or '<I4', #dict) .. dict
        .. (data or string.rep('\0', 24)))
    end
    local function rejects(msg) return H.assert_error(function() torch.load_npy(path) end, msg) end

    it('every truncation gives a clear error', function()
      for n = 0, #good - 1 do
        spit(path, good:sub(1, n))
        local ok, err = pcall(torch.load_npy, path)
        assert.is_false(ok, 'truncated to ' .. n)
        assert.is_truthy(err:find('load_npy', 1, true), err)
      end
    end)

    it('bad magic, versions and header lengths', function()
      spit(path, 'NUMPY\1\0' .. good:sub(9)); rejects('bad magic')
      spit(path, good:sub(1, 6) .. '\4\0' .. good:sub(9)); rejects('unsupported .npy version 4.0')
      spit(path, good:sub(1, 8) .. '\255\255' .. good:sub(11)); rejects('runs past the end')
      spit(path, good:sub(1, 6) .. '\2\0' .. string.pack('<I4', 0x7fffffff) .. good:sub(11)); rejects('exceeds')
    end)

    it('a strictly parsed header dict', function()
      local d = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
      with_dict(d)
      assert.are.equal(6, torch.load_npy(path):numel())
      with_dict(d, nil, 2)
      assert.are.equal(6, torch.load_npy(path):numel())
      with_dict((d:gsub('<f4', '<c8'))); rejects('complex dtype')
      with_dict((d:gsub("'<f4'", "'|O'"))); rejects('unsupported dtype')
      with_dict((d:gsub("'<f4'", "[('a', '<f4')]"))); rejects('structured dtypes')
      with_dict((d:gsub('<f4', '|f4'))); rejects("'|' is only valid for 1-byte types")
      with_dict((d:gsub('<f4', '<f3'))); rejects('unsupported dtype')
      with_dict((d:gsub('%(2, 3%)', '(6)'))); rejects('a 1-tuple needs a trailing comma')
      with_dict((d:gsub('%(2, 3%)', '(2, -3)'))); rejects('expected a size')
      with_dict((d:gsub('%(2, 3%)', '(2, 3, 4)'))); rejects('need 96 bytes of data, 24 are present (truncated)')
      with_dict((d:gsub('%(2, 3%)', '(99999999999999999999,)'))); rejects('too large')
      with_dict((d:gsub('%(2, 3%)', '(100000000000000000, 100)'))); rejects('needs more than 2^62 bytes')
      with_dict((d:gsub('False', 'None'))); rejects('unexpected value')
      with_dict((d:gsub("'shape'", "'descr'"))); rejects('duplicate key "descr"')
      with_dict((d:gsub("'shape'", "'bogus'"))); rejects('unknown key "bogus"')
      with_dict((d:gsub(", 'shape': %(2, 3%)", ''))); rejects("'shape' must be a tuple")
      with_dict(d .. ' x'); rejects('trailing characters')
      with_dict((d:gsub('}', ''))); rejects('bad header dict')
      with_dict(d, string.rep('\0', 28)); rejects('need 24 bytes of data, 28 are present')
      with_dict((d:gsub('<f4', '|b1')), '\0\1\2\0\0\0'); rejects('bool byte other than 0 or 1')
      with_dict((d:gsub('<f4', '<f4\xe9')), nil, 3); rejects('the header is not valid UTF-8')
      with_dict((d:gsub('<f4', '<f4\xe9'))); rejects('non-ASCII characters in a version 1 header')
      with_dict((d:gsub('<f4', '<f4\u{e9}')), nil, 3); rejects('unsupported dtype')
    end)

    it('never crashes on random byte mutations', function()
      S.survives_mutations({ good }, path, torch.load_npy, 300, 11)
    end)
  end)
end)

describe('.npz and torch.zip', function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it('loads stored (savez) and deflated (savez_compressed) archives with exact values', function()
    for _, file in ipairs { 'stored.npz', 'deflated.npz' } do
      local r = torch.load_npz(FIX .. file)
      local n = 0
      for name, e in pairs(expected[file]) do
        assert_exact(r[name], e, file .. ':' .. name)
        n = n + 1
      end
      for _ in pairs(r) do n = n - 1 end
      assert.are.equal(0, n, file)
    end
  end)

  it('lists members from the central directory and reads them with their CRC checked', function()
    local z <close> = zip.open(FIX .. 'deflated.npz')
    local m = z:member('big.npy')
    assert.are.equal(8, m.method)
    assert.is_true(m.compressed_size < m.size)
    assert.are.equal(m.size, #z:read('big.npy'))
    assert.are.equal(torch._crc32(z:read(m)), m.crc32)
    local s <close> = zip.open(FIX .. 'stored.npz')
    local w = s:member('weight.npy')
    assert.are.equal(0, w.method)
    local t = s:read_tensor(w, 'uint8', { w.size })
    assert.are.equal(w.crc32, torch._crc32(t))
    H.assert_error(function() s:read_tensor(w, 'float32', { w.size }) end, 'the tensor needs')
    H.assert_error(function() s:read('nope') end, 'no member named "nope"')
  end)

  describe('hostile archives', function()
    local good = slurp(FIX .. 'stored.npz')
    local deflated = slurp(FIX .. 'deflated.npz')
    local function patch(s, pos, bytes) return s:sub(1, pos - 1) .. bytes .. s:sub(pos + #bytes) end
    local function rejects(s, msg)
      spit(path, s)
      return H.assert_error(function() torch.load_npz(path) end, msg)
    end
    local eocd = good:find('PK\5\6', 1, true)
    local cd = string.unpack('<I4', good, eocd + 16) + 1

    it('every truncation gives a clear error', function()
      for n = 0, #good - 1, 7 do
        spit(path, good:sub(1, n))
        local ok, err = pcall(torch.load_npz, path)
        assert.is_false(ok, 'truncated to ' .. n)
        assert.is_truthy(err:find('load_npz', 1, true), err)
      end
    end)

    it('bad offsets, sizes, counts and CRCs', function()
      rejects('not a zip at all, just some bytes here', 'no end-of-central-directory record')
      rejects(patch(good, eocd + 16, string.pack('<I4', #good + 100)), 'runs past its end record')
      rejects(patch(good, eocd + 8, string.pack('<I2I2', 200, 200)), 'entries cannot fit')
      rejects(patch(good, cd + 42, string.pack('<I4', 999999)), 'past the central directory')
      rejects(patch(good, cd + 42, string.pack('<I4', 5)), 'bad local header signature')
      rejects(patch(good, cd + 20, string.pack('<I4I4', 999999, 999999)), 'run into the central directory')
      rejects(patch(good, cd + 10, string.pack('<I2', 12)), 'compression method 12 is not supported')
      rejects(patch(good, cd + 8, string.pack('<I2', 1)), 'encrypted')
      rejects(patch(good, cd + 16, string.pack('<I4', 0x12345678)), 'CRC-32 mismatch')
      rejects(patch(good, 100, 'XXXX'), 'CRC-32 mismatch')
      rejects(patch(good, cd, 'PK\9\9'), 'bad signature')
      rejects(patch(good, eocd + 16, string.pack('<I4', 0xffffffff)), 'no zip64 locator')
      -- a second member pointing at the first member's header
      local second = good:find('PK\1\2', cd + 4, true)
      rejects(patch(good, second + 42, string.pack('<I4', 0)), 'local header names a different member')
      -- the same data claimed twice under equal names is refused too
      local name1 = good:sub(cd + 46, cd + 46 + string.unpack('<I2', good, cd + 28) - 1)
      local second_name_len = string.unpack('<I2', good, second + 28)
      if second_name_len == #name1 then rejects(patch(good, second + 46, name1), 'duplicate member name') end
    end)

    it('corrupt deflate data and lying sizes', function()
      local dcd = string.unpack('<I4', deflated, deflated:find('PK\5\6', 1, true) + 16) + 1
      local data_start = 30 + string.unpack('<I2', deflated, 27) + string.unpack('<I2', deflated, 29) + 1
      rejects(patch(deflated, data_start, '\255\255\255'), 'corrupt deflate data')
      rejects(patch(deflated, dcd + 24, string.pack('<I4', 1 << 30)), 'cannot come out of a deflate stream')
      rejects(patch(deflated, dcd + 24, string.pack('<I4', 100)), 'the data inflates to')
    end)

    it('never crashes on random byte mutations', function()
      S.survives_mutations({ deflated, good }, path, torch.load_npz, 300, 5)
    end)
  end)
end)
