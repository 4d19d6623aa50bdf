-- Tensor printing against PyTorch's repr (spec/fixtures/print.lua from
-- scripts/fixtures/gen_print.py): each case builds the same tensor in Lua and
-- expects exactly PyTorch's text.
local torch = require 'torch'
local H = require 'spec.support.helpers'
local F = H.fixture('print')

local function build(expr)
  local chunk = assert(load('return ' .. expr, expr, 't', { torch = torch, H = H, F = F }))
  return chunk()
end

describe('tensor printing', function()
  after_each(function() torch.set_printoptions { profile = 'default' } end)

  local names = {}
  for name in pairs(F) do if name:sub(1, 1) ~= '_' then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do
    local case = F[name]
    it('matches PyTorch: ' .. name, function()
      if case.opts then torch.set_printoptions(case.opts) end
      assert.are.equal(case.repr, tostring(build(case.lua)))
    end)
  end

  it('prints non-contiguous views like their contiguous copies', function()
    local x = torch.arange(12):reshape(3, 4)
    local t = x:t()
    assert.are.equal(tostring(t:contiguous()), tostring(t))
    assert.are.equal('tensor([1, 5, 9])', tostring(x:select(2, 2)))
  end)

  it('prints a 1e8-element tensor at once (reads only the shown elements)', function()
    local big = torch.zeros(100000000, { dtype = 'uint8' })
    local t0 = os.clock()
    local s = tostring(big)
    assert.is_true(os.clock() - t0 < 0.5)
    assert.are.equal('tensor([0, 0, 0,  ..., 0, 0, 0], dtype=torch.uint8)', s)
  end)

  it('summarises an expanded (stride-0) huge view', function()
    local v = torch.zeros(1):expand(1000000000)
    assert.are.equal('tensor([0., 0., 0.,  ..., 0., 0., 0.])', tostring(v))
  end)

  it('set_printoptions validates its options and resets with the default profile', function()
    H.assert_error(function() torch.set_printoptions { precison = 2 } end, "unknown option 'precison'")
    H.assert_error(function() torch.set_printoptions { profile = 'tiny' } end, "unknown profile 'tiny'")
    H.assert_error(function() torch.set_printoptions { precision = -1 } end, 'precision must be a non-negative')
    torch.set_printoptions { precision = 1, edgeitems = 1, threshold = 3 }
    assert.are.equal('tensor([1.5,  ..., 4.5])', tostring(torch.tensor { 1.5, 2.5, 3.5, 4.5 }))
    torch.set_printoptions { profile = 'default' }
    assert.are.same({ precision = 4, threshold = 1000, edgeitems = 3, linewidth = 80 }, torch.get_printoptions())
    assert.are.equal('tensor([1.5000, 2.5000, 3.5000, 4.5000])', tostring(torch.tensor { 1.5, 2.5, 3.5, 4.5 }))
  end)

  it('full profile prints every element', function()
    torch.set_printoptions { profile = 'full' }
    assert.is_nil(tostring(torch.arange(2000)):find('...', 1, true))
  end)

  it('print() uses the same text', function()
    local out = {}
    local old = _G.print
    _G.print = function(...) out[#out + 1] = tostring((...)) end
    print(torch.tensor { 1, 2 })
    _G.print = old
    assert.are.equal('tensor([1, 2])', out[1])
  end)
end)
