-- torch.load_pytorch: PyTorch (zip-format) checkpoints read without Python, through a
-- weights-only pickle subset. Fixtures: scripts/fixtures/gen_pytorch_pt.py (torch 1.13).
local torch = require 'torch'
local nn = require 'nn'
local H = require 'spec.support.helpers'
local PF = require 'torch.pytorch_format'

local here = debug.getinfo(1, 'S').source:sub(2):match('^(.*)/[^/]*$') or 'spec'
local function pt(name) return here .. '/fixtures/pt/' .. name .. '.pt' end
local F = H.fixture('pytorch_pt')

local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  return ks
end

local function read_file(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
end

-- the LeNet of the generator: features (conv-relu-pool x2) and classifier (flatten, 3 linear)
local LeNet, parent = torch.class('SpecPtLeNet', 'nn.Module')
function LeNet:__init()
  parent.__init(self)
  self.features = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
  self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(256, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
    nn.Linear(16, 10))
end
function LeNet:forward(x) return self.classifier(self.features(x)) end

describe('torch.load_pytorch', function()
  it('reads a state dict of every dtype, keys in order, values exact', function()
    local sd = torch.load_pytorch(pt('dtypes'))
    assert.are.same(F.dtype_keys, keys_of(sd))
    assert.are.same(F.dtype_keys, getmetatable(sd).keys)
    for k, want in pairs(F.dtypes) do
      local t = sd[k]
      assert.are.equal(want.dtype, t.dtype, k)
      assert.are.same(want.shape, t:size(), k)
      H.assert_close(t, want, { atol = 0, rtol = 0 })
    end
    assert.is_false(sd.f32.requires_grad)
  end)

  it('keeps storage sharing, strides and offsets', function()
    local s = torch.load_pytorch(pt('shared'))
    for k, want in pairs(F.shared) do
      H.assert_close(s[k], want, { atol = 0, rtol = 0 })
      assert.are.same(F.shared_meta[k].stride, s[k]:stride(), k)
      assert.are.equal(F.shared_meta[k].offset, s[k]:storage_offset(), k)
    end
    assert.is_false(s.t:is_contiguous())
    assert.is_false(s.cols:is_contiguous())
    -- a view and its base share memory
    s.base[2][1] = 100
    assert.are.equal(100, s.row[1])
    assert.are.equal(100, s.t[1][2])
    -- two views of one storage that was never saved whole
    s.x[5] = -1
    assert.are.equal(-1, s.y[1][1])
  end)

  it('reads nested containers, numbers, strings, None and booleans (protocols 2 and 4)', function()
    for _, name in ipairs { 'nested', 'nested_p4' } do
      local o = torch.load_pytorch(pt(name))
      local ks = getmetatable(o).keys
      assert.are.same(F.nested_keys, ks, name)
      assert.are.equal(1, o.dict.a)
      assert.are.equal('two', o.dict.b)
      -- a None inside a list keeps its position; n gives the length
      local l = o.list
      assert.are.equal(7, l.n)
      assert.are.equal(1, l[1]); assert.are.equal(2.5, l[2]); assert.is_nil(l[3])
      assert.is_true(l[4]); assert.is_false(l[5]); assert.are.equal('s', l[6])
      assert.are.equal(3, l[7][1]); assert.are.equal(4, l[7][2][1])
      assert.are.equal(2, o.tuple[2][1]); assert.are.equal(3, o.tuple[2][2]); assert.are.equal(0, #o.tuple[3])
      assert.is_nil(o.none)
      assert.is_true(o['true']); assert.is_false(o['false'])
      assert.are.equal(200, o.int1); assert.are.equal(300, o.int2); assert.are.equal(-70000, o.int4)
      assert.are.equal(1 << 40, o.big); assert.are.equal(-(1 << 62), o.neg_big)
      assert.are.equal('integer', math.type(o.big))
      assert.are.equal(1e-3, o.float); assert.are.equal('float', math.type(o.float))
      assert.are.equal('h\u{e9}llo', o.str)
      assert.are.equal(string.rep('x', 300), o.long_str)
      assert.are.equal('one', o.int_keys[1]); assert.are.equal('two', o.int_keys[2])
      assert.are.same({ 2, 3 }, { o.size[1], o.size[2] })
      -- parameters and requires_grad
      assert.is_true(nn.is_parameter(o.param)); assert.is_true(o.param.requires_grad)
      assert.is_true(nn.is_parameter(o.frozen)); assert.is_false(o.frozen.requires_grad)
      assert.is_false(nn.is_parameter(o.grad)); assert.is_true(o.grad.requires_grad)
      H.assert_close(o.param, { 1, 2 })
      assert.are.same({ 0, 3 }, o.empty:size())
      assert.are.equal(0, o.scalar:dim()); assert.are.equal(3.5, o.scalar:item())
    end
  end)

  it("loads the tutorials' CNN state dict into Ember's CNN and matches PyTorch's output", function()
    local sd = torch.load_pytorch(pt('lenet'))
    assert.are.same(F.lenet_keys, keys_of(sd))
    assert.is_table(getmetatable(sd).attributes._metadata) -- the OrderedDict's attribute, not a key
    local net = LeNet()
    H.assert_error(function() net:load_state_dict(sd) end, 'Missing key(s) in state_dict')
    local mapped = torch.pytorch_to_ember_names(sd)
    assert.are.same({ 'features.1.weight', 'features.1.bias', 'features.4.weight', 'features.4.bias',
      'classifier.2.weight', 'classifier.2.bias', 'classifier.4.weight', 'classifier.4.bias',
      'classifier.6.weight', 'classifier.6.bias' }, keys_of(mapped))
    assert.are.equal(sd['features.0.weight'], mapped['features.1.weight'])
    local r = net:load_state_dict(mapped)
    assert.are.same({}, r.missing_keys); assert.are.same({}, r.unexpected_keys)
    net:eval()
    local io = torch.load_pytorch(pt('lenet_io'))
    local y = torch.no_grad(function() return net(io.input) end)
    H.assert_close(y, io.output, { atol = 1e-5, rtol = 1e-5 })
  end)

  it('maps only purely numeric name components', function()
    local sd = PF.new_dict()
    sd['0.weight'] = 1
    sd['layers.0.self_attn.in_proj_weight'] = 2
    sd['features.10.bias'] = 3
    sd['block0.w1'] = 4
    sd['x.01.y'] = 5
    local m = torch.pytorch_to_ember_names(sd)
    assert.are.same({ '1.weight', 'layers.1.self_attn.in_proj_weight', 'features.11.bias', 'block0.w1', 'x.01.y' },
      keys_of(m))
    assert.are.equal(3, m['features.11.bias'])
    H.assert_error(function() torch.pytorch_to_ember_names(3) end, 'expected a state dict table')
  end)

  it('refuses globals and opcodes outside the weights-only subset, running nothing', function()
    H.assert_error(function() torch.load_pytorch(pt('os_system')) end,
      "load_pytorch: global 'os.system' is not allowed")
    H.assert_error(function() torch.load_pytorch(pt('builtins_eval')) end, "global 'builtins.eval' is not allowed")
    H.assert_error(function() torch.load_pytorch(pt('inst')) end, 'opcode INST (0x69) is not allowed')
  end)

  it('gives clear errors for hostile lengths, bounds, depth and stack misuse', function()
    H.assert_error(function() torch.load_pytorch(pt('huge_unicode')) end, 'BINUNICODE needs 2147483647 bytes, 4 left')
    H.assert_error(function() torch.load_pytorch(pt('storage_too_big')) end,
      'storage 0 claims 268435456 float32 elements but its record holds 8 bytes')
    H.assert_error(function() torch.load_pytorch(pt('view_out_of_bounds')) end,
      'reaches past its storage of 2 elements')
    H.assert_error(function() torch.load_pytorch(pt('deep')) end, 'nested deeper than 1000')
    H.assert_error(function() torch.load_pytorch(pt('underflow')) end, 'APPEND: the stack is empty')
    H.assert_error(function() torch.load_pytorch(pt('bad_memo')) end, 'memo entry 5 was never stored')
    H.assert_error(function() torch.load_pytorch(pt('byteorder_big')) end, "byte order 'big' is not supported")
    assert.are.equal(1, torch.load_pytorch(pt('byteorder_little')))
    H.assert_error(function() torch.load_pytorch(here .. '/fixtures/no_such.pt') end, 'No such file or directory')
    H.assert_error(function() torch.load_pytorch(42) end, 'expected a file name')
  end)

  it('checks the pickle subset directly', function()
    local function un(s) return PF.unpickle('\x80\x02' .. s, function() error('no storages') end, torch) end
    assert.are.equal(5, un('K\x05.'))
    assert.are.equal(-2, un('\x8a\x01\xfe.'))
    assert.are.equal(0, un('\x8a\x00.'))
    H.assert_error(function() un('\x8a\x09' .. string.rep('\0', 9) .. '.') end, 'does not fit a 64-bit integer')
    H.assert_error(function() un('K\x05') end, 'truncated pickle')
    H.assert_error(function() un('(K\x01u.') end, 'odd number')
    H.assert_error(function() un('K\x01K\x02s.') end, 'SETITEM: the stack is empty') -- nothing under the pair
    H.assert_error(function() un(']NK\x01s.') end, 'SETITEM on a list')
    H.assert_error(function() un('}NK\x01s.') end, 'None or NaN')
    H.assert_error(function() un('(a.') end, 'APPEND: the stack is empty') -- MARK hides what is below
    H.assert_error(function() un(string.rep('(', 1001) .. '.') end, 'more than 1000 nested MARKs')
    H.assert_error(function() un('ctorch._utils\n_rebuild_tensor_v2\n)R.') end, 'requires_grad must be a boolean')
    H.assert_error(function() un('K\x01)R.') end, "REDUCE: '1' cannot be called")
    H.assert_error(function() un('ccollections\nOrderedDict\nK\x01b.') end, 'BUILD on a global is not allowed')
    H.assert_error(function() un('X\x07\0\0\0storage\x85Q.') end, 'storage of unknown type')
    H.assert_error(function() un('K\x01Q.') end, 'persistent ids other than storages')
    H.assert_error(function() un('\x8c\x02osq\x00\x8c\x06system\x93.') end, "global 'os.system' is not allowed")
    H.assert_error(function() un('ctorch\nload\n.') end, "global 'torch.load' is not allowed")
    assert.are.equal('torch.OrderedDict', getmetatable(un('}.')).__name)
    assert.are.equal('float16', un('ctorch\nfloat16\n.'))
    -- memo of None, then the list holds it at its position
    local l = un(']Nq\x00ah\x00aK\x03a.')
    assert.are.equal(3, l.n); assert.is_nil(l[1]); assert.is_nil(l[2]); assert.are.equal(3, l[3])
    -- what PyTorch 2.x writes for tensors of subclasses: _rebuild_from_type_v2(func, type, args, state)
    local function bu(x) return 'X' .. string.pack('<I4', #x) .. x end
    local function loader(dtype, key, loc, numel)
      assert.are.same({ 'float32', '0', 'cuda:0', 2 }, { dtype, key, loc, numel })
      return torch.tensor { 1.5, 2.5 }
    end
    local v2 = 'ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\n'
      .. 'ctorch.nn.parameter\nParameter\n((' .. bu('storage') .. 'ctorch\nFloatStorage\n' .. bu('0')
      .. bu('cuda:0') .. 'K\x02tQK\x00K\x02\x85K\x01\x85\x88)t}tR.'
    local p = PF.unpickle('\x80\x02' .. v2, loader, torch)
    assert.is_true(nn.is_parameter(p)); assert.is_true(p.requires_grad)
    H.assert_close(p, { 1.5, 2.5 })
    local bad = v2:gsub('nn.parameter\nParameter', 'nn\nModule')
    H.assert_error(function() PF.unpickle('\x80\x02' .. bad, loader, torch) end,
      "global 'torch.nn.Module' is not allowed")
    -- a list that holds itself
    local c = un(']q\x00h\x00a.')
    assert.are.equal(c, c[1])
  end)

  it('rejects truncated and damaged files with clear errors', function()
    local good = read_file(pt('nested'))
    local path = os.tmpname()
    local ok_count = 0
    local function try(bytes)
      write_file(path, bytes)
      local ok, err = pcall(torch.load_pytorch, path)
      if ok then
        ok_count = ok_count + 1
      else
        assert(type(err) == 'string' and err:find('^load_pytorch: '), tostring(err))
      end
    end
    for cut = 0, #good - 1, 37 do
      write_file(path, good:sub(1, cut))
      H.assert_error(function() torch.load_pytorch(path) end, 'load_pytorch: ')
    end
    -- seeded byte mutations anywhere in the file: an error or a value, never a crash
    local rng = 987
    local function rand(m)
      rng = (rng * 1103515245 + 12345) % 2147483648
      return rng % m + 1
    end
    for _ = 1, 300 do
      local b = { good:byte(1, -1) }
      for _ = 1, rand(3) do b[rand(#b)] = rand(256) - 1 end
      local s = {}
      for i = 1, #b, 4096 do s[#s + 1] = string.char(table.unpack(b, i, math.min(i + 4095, #b))) end
      try(table.concat(s))
    end
    -- a damaged data.pkl or storage is caught by the CRC-32 check
    local p = good:find('data.pkl', 1, true)
    local damaged = good:sub(1, 200) .. string.char((good:byte(201) + 1) % 256) .. good:sub(202)
    assert(p and p < 200)
    write_file(path, damaged)
    H.assert_error(function() torch.load_pytorch(path) end, 'CRC-32 mismatch')
    os.remove(path)
    assert.is_true(ok_count < 300)
  end)

  it('follows the zip64 end-of-directory record when the classic one is saturated', function()
    local good = read_file(pt('dtypes'))
    local path = os.tmpname()
    local sat = good:sub(1, #good - 22) .. 'PK\5\6' .. '\0\0\0\0' .. string.rep('\xff', 12) .. '\0\0'
    write_file(path, sat)
    H.assert_close(torch.load_pytorch(path).i16, F.dtypes.i16, { atol = 0, rtol = 0 })
    -- the zip64 record's central-directory offset pointing far outside the file
    local z = sat:find('PK\6\6', 1, true)
    write_file(path, sat:sub(1, z + 47) .. string.pack('<i8', 1 << 62) .. sat:sub(z + 56))
    H.assert_error(function() torch.load_pytorch(path) end, 'runs past its end record')
    write_file(path, sat:sub(1, z - 1) .. 'PK\6\5' .. sat:sub(z + 4))
    H.assert_error(function() torch.load_pytorch(path) end, 'bad zip64 end record signature')
    write_file(path, 'not a zip at all, just some bytes')
    H.assert_error(function() torch.load_pytorch(path) end, 'not a zip file')
    os.remove(path)
  end)

  it('survives seeded mutations of the pickle itself', function()
    local z <close> = require('torch.zip').open(pt('nested'))
    local pkl = z:read('nested/data.pkl')
    local function loader(dtype, _, _, numel)
      if numel > 1000 then error('load_pytorch: too many', 0) end
      return torch.zeros(numel, { dtype = dtype })
    end
    assert.are.equal('two', PF.unpickle(pkl, loader, torch).dict.b)
    local rng, ok_count = 4242, 0
    local function rand(m)
      rng = (rng * 1103515245 + 12345) % 2147483648
      return rng % m + 1
    end
    for _ = 1, 1000 do
      local b = { pkl:byte(1, -1) }
      for _ = 1, rand(4) do b[rand(#b)] = rand(256) - 1 end
      local ok, err = pcall(PF.unpickle, string.char(table.unpack(b)), loader, torch)
      if ok then ok_count = ok_count + 1
      else assert(type(err) == 'string' and err:find('^load_pytorch: '), tostring(err)) end
    end
    assert.is_true(ok_count > 0 and ok_count < 1000)
  end)
end)
