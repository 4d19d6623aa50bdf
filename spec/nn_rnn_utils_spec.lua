-- nn.utils.rnn (lua/nn/rnn_utils.lua) against PyTorch fixtures
-- (scripts/fixtures/gen_nn_rnn_utils.py): pack_padded_sequence / pad_packed_sequence
-- time-major and batch-first, sorted, unsorted and tied lengths, total_length and
-- padding_value, with their gradients; pad_sequence (right and left), pack_sequence,
-- unpad_sequence, unpack_sequence; gradcheck in float64; PackedSequence's helpers;
-- errors for lengths that do not fit the input.
local torch = require 'torch'
local nn = require 'nn'
local H = require 'spec.support.helpers'

local R = nn.utils.rnn
local fx = H.fixture('nn_rnn_utils')

local function tensors(list)
  local r = {}
  for i, f in ipairs(list) do r[i] = H.tensor(f) end
  return r
end

local function check_indices(ps, c)
  H.assert_close(ps.batch_sizes, c.batch_sizes)
  if c.sorted_indices then
    H.assert_close(ps.sorted_indices, c.sorted_indices)
    H.assert_close(ps.unsorted_indices, c.unsorted_indices)
  else
    assert.is_nil(ps.sorted_indices)
    assert.is_nil(ps.unsorted_indices)
  end
end

describe('nn.utils.rnn against PyTorch', function()
  before_each(function() torch.set_grad_enabled(true) end)

  for k, c in ipairs(fx.pack) do
    local name = ('%d pack_padded_sequence %s lengths {%s} batch_first=%s enforce_sorted=%s'):format(k,
      table.concat(c.x.shape, 'x'), table.concat(c.lengths, ','), c.batch_first, c.enforce_sorted)
    it(name .. ', data, indices and input gradient', function()
      for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
        local x = H.tensor(c.x)
        if layout == 'non-contiguous' then x = H.noncontig(x) end
        x:requires_grad_()
        -- lengths as a tensor in one layout, as a Lua list in the other
        local lengths = layout == 'contiguous' and torch.tensor(c.lengths) or c.lengths
        local ps = R.pack_padded_sequence(x, lengths, { batch_first = c.batch_first, enforce_sorted = c.enforce_sorted })
        assert.equal('nn.utils.rnn.PackedSequence', torch.type(ps))
        H.assert_close(ps.data, c.data)
        check_indices(ps, c)
        ps.data:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx)
      end
    end)
    it(name .. ', pad_packed_sequence and its gradient', function()
      local si = c.sorted_indices and H.tensor(c.sorted_indices) or nil
      for _, p in ipairs(c.pads) do
        local data = H.tensor(c.data):requires_grad_()
        local ps = R.PackedSequence(data, H.tensor(c.batch_sizes), si)
        local out, lens = R.pad_packed_sequence(ps, { batch_first = p.batch_first, padding_value = p.padding_value,
          total_length = p.total_length })
        H.assert_close(out, p.out)
        H.assert_close(lens, p.lengths)
        out:backward(H.tensor(p.g))
        H.assert_close(data.grad, p.gdata)
      end
    end)
  end

  for k, c in ipairs(fx.pad_sequence) do
    it(('%d pad_sequence %d sequences batch_first=%s padding_side=%s'):format(k, #c.seqs, c.batch_first,
      c.padding_side), function()
      local seqs = tensors(c.seqs)
      for _, s in ipairs(seqs) do s:requires_grad_() end
      local out = R.pad_sequence(seqs, { batch_first = c.batch_first, padding_value = c.padding_value,
        padding_side = c.padding_side })
      H.assert_close(out, c.out)
      out:backward(H.tensor(c.g))
      for i, s in ipairs(seqs) do H.assert_close(s.grad, c.gseqs[i]) end
    end)
  end

  for k, c in ipairs(fx.pack_sequence) do
    it(('%d pack_sequence %d sequences enforce_sorted=%s, and unpack_sequence'):format(k, #c.seqs, c.enforce_sorted),
      function()
        local seqs = tensors(c.seqs)
        for _, s in ipairs(seqs) do s:requires_grad_() end
        local ps = R.pack_sequence(seqs, { enforce_sorted = c.enforce_sorted })
        H.assert_close(ps.data, c.data)
        check_indices(ps, c)
        ps.data:backward(H.tensor(c.g))
        for i, s in ipairs(seqs) do H.assert_close(s.grad, c.gseqs[i]) end
        local un = R.unpack_sequence(ps)
        assert.equal(#c.unpacked, #un)
        for i, u in ipairs(un) do H.assert_close(u, c.unpacked[i]) end
      end)
  end

  for k, c in ipairs(fx.unpad) do
    it(('%d unpad_sequence batch_first=%s'):format(k, c.batch_first), function()
      local out = R.unpad_sequence(H.tensor(c.x), torch.tensor(c.lengths), { batch_first = c.batch_first })
      assert.equal(#c.out, #out)
      for i, o in ipairs(out) do H.assert_close(o, c.out[i]) end
    end)
  end

  it('packs an int64 payload', function()
    local c = fx.ints
    local ps = R.pack_padded_sequence(H.tensor(c.x), c.lengths, { enforce_sorted = false })
    H.assert_close(ps.data, c.data)
    check_indices(ps, c)
    local back = R.pad_packed_sequence(ps)
    assert.equal('int64', back.dtype)
  end)
end)

describe('nn.utils.rnn gradients and round trips', function()
  before_each(function() torch.set_grad_enabled(true) end)
  local gc = torch.autograd.gradcheck

  it('passes gradcheck in float64 through pack and pad, both layouts, unsorted lengths', function()
    for _, bf in ipairs { false, true } do
      local x = torch.randn(bf and { 3, 4, 2 } or { 4, 3, 2 }, { dtype = 'float64', requires_grad = true })
      local opts = { batch_first = bf, enforce_sorted = false }
      assert.is_true(gc(function(t) return R.pack_padded_sequence(t, { 2, 4, 3 }, opts).data end, { x }))
      assert.is_true(gc(function(t)
        local ps = R.pack_padded_sequence(t, { 2, 4, 3 }, opts)
        return (R.pad_packed_sequence(ps, { batch_first = not bf, total_length = 5, padding_value = 0.5 }))
      end, { x }))
      local d = torch.randn({ 9, 2 }, { dtype = 'float64', requires_grad = true })
      assert.is_true(gc(function(t)
        return (R.pad_packed_sequence(R.PackedSequence(t, { 3, 3, 2, 1 }, torch.tensor { 2, 3, 1 }), { batch_first = bf }))
      end, { d }))
    end
  end)

  it('passes gradcheck in float64 through pad_sequence and pack_sequence', function()
    local a = torch.randn({ 2, 3 }, { dtype = 'float64', requires_grad = true })
    local b = torch.randn({ 4, 3 }, { dtype = 'float64', requires_grad = true })
    local c = torch.randn({ 3, 3 }, { dtype = 'float64', requires_grad = true })
    assert.is_true(gc(function(x, y, z) return R.pad_sequence({ x, y, z }, { padding_side = 'left' }) end, { a, b, c }))
    assert.is_true(gc(function(x, y, z) return R.pad_sequence({ x, y, z }, { batch_first = true }) end, { a, b, c }))
    assert.is_true(gc(function(x, y, z) return R.pack_sequence({ x, y, z }, { enforce_sorted = false }).data end,
      { a, b, c }))
  end)

  it('round-trips padded -> packed -> padded and list -> packed -> list', function()
    local x = torch.randn(5, 4, 3)
    local lengths = torch.tensor { 3, 5, 1, 4 }
    local ps = R.pack_padded_sequence(x, lengths, { enforce_sorted = false })
    local back, lens = R.pad_packed_sequence(ps)
    H.assert_close(lens, lengths)
    for i = 1, 4 do
      local n = lengths[i]
      H.assert_close(back:narrow(1, 1, n):select(2, i), x:narrow(1, 1, n):select(2, i))
      if n < 5 then H.assert_close(back:narrow(1, n + 1, 5 - n):select(2, i), torch.zeros(5 - n, 3)) end
    end
    local seqs = { torch.randn(2, 3), torch.randn(4, 3), torch.randn(1, 3) }
    local un = R.unpack_sequence(R.pack_sequence(seqs, { enforce_sorted = false }))
    for i = 1, 3 do H.assert_close(un[i], seqs[i]) end
    local up = R.unpad_sequence(R.pad_sequence(seqs, { batch_first = true }), { 2, 4, 1 }, { batch_first = true })
    for i = 1, 3 do H.assert_close(up[i], seqs[i]) end
    assert.equal(0, R.unpad_sequence(torch.randn(3, 2), { 0, 3 })[1]:numel())
  end)

  it('accepts a tensor of sequences in pad_sequence and 1-D sequences everywhere', function()
    local out = R.pad_sequence(torch.arange(1, 7):view(2, 3))
    assert.same({ 3, 2 }, { out:size(1), out:size(2) })
    local ps = R.pack_sequence({ torch.tensor { 1, 2, 3 }, torch.tensor { 4 } })
    H.assert_close(ps.data, torch.tensor { 1, 4, 2, 3 })
    H.assert_close(ps.batch_sizes, torch.tensor { 2, 1, 1 })
  end)
end)

describe('nn.utils.rnn.PackedSequence', function()
  it('computes unsorted_indices from sorted_indices and checks its arguments', function()
    local ps = R.PackedSequence(torch.randn(6, 2), torch.tensor { 3, 2, 1 }, torch.tensor { 3, 1, 2 })
    H.assert_close(ps.unsorted_indices, torch.tensor { 2, 3, 1 })
    H.assert_close(R.invert_permutation(torch.tensor { 3, 1, 2 }), torch.tensor { 2, 3, 1 })
    assert.is_nil(R.invert_permutation(nil))
    H.assert_error(function() R.PackedSequence(torch.randn(5, 2), torch.tensor { 3, 2, 1 }) end,
      'batch_sizes sum to 6 but data has 5 rows')
    H.assert_error(function() R.PackedSequence(torch.randn(6, 2), torch.tensor { 2, 3, 1 }) end,
      'batch_sizes must be positive and non-increasing')
    H.assert_error(function() R.PackedSequence(torch.randn(6, 2), torch.tensor { 3.0, 2.0, 1.0 }) end,
      'batch_sizes must be a 1-D int64 tensor')
    H.assert_error(function() R.PackedSequence(torch.randn(6, 2), torch.tensor { 3, 2, 1 }, torch.tensor { 1, 1, 2 }) end,
      'sorted_indices must be a permutation of 1..3')
    H.assert_error(function() R.PackedSequence('x', torch.tensor { 1 }) end, 'data must be a tensor')
  end)

  it('converts with to / double / float and reports is_cuda, dtype, device', function()
    local ps = R.pack_sequence({ torch.randn(2, 3), torch.randn(3, 3) }, { enforce_sorted = false })
    assert.is_false(ps.is_cuda)
    assert.equal('cpu', ps.device)
    assert.equal('float32', ps.dtype)
    local d = ps:double()
    assert.equal('float64', d.data.dtype)
    assert.equal('float64', d.dtype)
    assert.equal(ps.batch_sizes, d.batch_sizes)
    H.assert_close(d.sorted_indices, ps.sorted_indices)
    assert.equal(ps, ps:float())
    assert.equal(ps, ps:to('float32'))
    assert.equal('float64', ps:to('float64').data.dtype)
    assert.equal('float64', ps:to({ dtype = 'float64' }).data.dtype)
    local s = tostring(ps)
    assert.truthy(s:find('PackedSequence(data=', 1, true))
    assert.truthy(s:find('batch_sizes=', 1, true))
  end)
end)

describe('nn.utils.rnn errors', function()
  local x = torch.randn(4, 3, 2)

  it('rejects lengths that do not match the input, naming the function', function()
    H.assert_error(function() R.pack_padded_sequence(x, { 5, 3, 2 }) end,
      'pack_padded_sequence: length 5 of sequence 1 exceeds the padded sequence length 4')
    H.assert_error(function() R.pack_padded_sequence(x, { 3, 2, 0 }) end,
      'pack_padded_sequence: every length must be greater than 0, got 0 for sequence 3')
    H.assert_error(function() R.pack_padded_sequence(x, torch.tensor { 3, 2 }) end,
      'pack_padded_sequence: expected one length per batch element (batch size 3), got 2 lengths')
    H.assert_error(function() R.pack_padded_sequence(x, { 4, 3, 2, 1 }, { batch_first = true }) end,
      'pack_padded_sequence: length 4 of sequence 1 exceeds the padded sequence length 3')
    H.assert_error(function() R.pack_padded_sequence(x, { 3, 2.5, 1 }) end,
      'pack_padded_sequence: lengths must be integers, got 2.5')
    H.assert_error(function() R.pack_padded_sequence(x, torch.tensor { { 3, 2, 1 } }) end,
      'pack_padded_sequence: lengths must be a 1-D tensor')
    H.assert_error(function() R.pack_padded_sequence(x, 'abc') end,
      'pack_padded_sequence: lengths must be a 1-D tensor or a list of integers')
    H.assert_error(function() R.pack_padded_sequence(torch.randn(4), { 4 }) end,
      'pack_padded_sequence: expected input of size T x B x *')
    H.assert_error(function() R.pack_padded_sequence(torch.randn(3, 0, 2), {}) end,
      'pack_padded_sequence: cannot pack an empty batch (input size 3x0x2)')
    H.assert_error(function() R.unpad_sequence(x, { 1, -1, 2 }) end,
      'unpad_sequence: every length must be at least 0, got -1 for sequence 2')
    H.assert_error(function() R.unpad_sequence(x, { 1, 2 }) end,
      'unpad_sequence: expected one length per batch element (batch size 3), got 2 lengths')
  end)

  it('gives PyTorch\'s error for unsorted lengths with enforce_sorted', function()
    H.assert_error(function() R.pack_padded_sequence(x, { 2, 4, 3 }) end,
      'pack_padded_sequence: `lengths` array must be sorted in decreasing order when `enforce_sorted` is true')
    H.assert_error(function() R.pack_sequence({ torch.randn(2), torch.randn(3) }) end,
      'pack_sequence: `lengths` array must be sorted in decreasing order')
    H.assert_error(function() R.pack_padded_sequence(x, { 2, 4, 3 }, { enforce_sorted = false, batch_frist = true }) end,
      "pack_padded_sequence: unknown option 'batch_frist'")
  end)

  it('rejects a total_length shorter than the longest sequence and non-PackedSequence input', function()
    local ps = R.pack_padded_sequence(x, { 4, 2, 1 })
    H.assert_error(function() R.pad_packed_sequence(ps, { total_length = 3 }) end,
      'pad_packed_sequence: expected total_length to be at least the length of the longest sequence in input, ' ..
      'but got total_length=3 and max sequence length being 4')
    H.assert_error(function() R.pad_packed_sequence(x) end, 'pad_packed_sequence: expected a PackedSequence')
    H.assert_error(function() R.unpack_sequence(x) end, 'unpack_sequence: expected a PackedSequence')
    H.assert_error(function() R.pad_packed_sequence(ps, { padding_value = 'z' }) end,
      'pad_packed_sequence: padding_value must be a number')
  end)

  it('rejects bad sequence lists', function()
    H.assert_error(function() R.pad_sequence({}) end, 'pad_sequence: received an empty list of sequences')
    H.assert_error(function() R.pack_sequence({}) end, 'pack_sequence: received an empty list of sequences')
    H.assert_error(function() R.pad_sequence({ torch.randn(2, 3), torch.randn(3, 4) }) end,
      'pad_sequence: every sequence must be L x * with the same *; sequence 1 has size 2x3, sequence 2 has size 3x4')
    H.assert_error(function() R.pad_sequence({ torch.randn(2, 3), 7 }) end,
      'pad_sequence: element 2 of the list is a number, not a tensor')
    H.assert_error(function() R.pad_sequence({ torch.tensor(1.0) }) end, 'pad_sequence: sequence 1 must have a time dim')
    H.assert_error(function() R.pad_sequence({ torch.randn(2) }, { padding_side = 'top' }) end,
      "pad_sequence: padding_side must be 'left' or 'right', got top")
    H.assert_error(function() R.pack_sequence({ torch.randn(2), torch.randn(0) }) end,
      'pack_sequence: cannot pack empty sequences: sequence 2 has length 0')
  end)
end)
