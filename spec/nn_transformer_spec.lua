-- Attention and transformer layers against PyTorch fixtures
-- (scripts/fixtures/gen_nn_transformer.py): F.scaled_dot_product_attention (PyTorch
-- 2's math written with torch ops, as torch 1.13 lacks it), MultiheadAttention and
-- the Transformer layers with PyTorch's state_dict loaded by name: outputs,
-- attention weights and the gradients of the inputs and of every parameter, in
-- eval mode; gradcheck in float64; initialisation, clone, dropout; errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_transformer')

local TOL = { rtol = 1e-5, atol = 1e-5 }

-- a fixture options table with its tensors made
local function opts_of(o)
  local res = {}
  for k, v in pairs(o or {}) do
    res[k] = (type(v) == 'table' and v.data) and H.tensor(v) or v
  end
  return res
end

-- a constructor argument list from the fixture: nested {ctor=, args=} tables become modules
local function build(ctor, args)
  local a = {}
  local function conv(v)
    if type(v) == 'table' and v.ctor then return build(v.ctor, v.args) end
    if type(v) == 'table' then
      local t = {}
      for k, x in pairs(v) do t[k] = conv(x) end
      return t
    end
    return v
  end
  for i, v in ipairs(args) do a[i] = conv(v) end
  return nn[ctor](table.unpack(a))
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe('nn attention and transformer', function()
  before_each(function() torch.set_grad_enabled(true) end)

  describe('F.scaled_dot_product_attention', function()
    for _, c in ipairs(fx.sdpa) do
      for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
        it(c.name .. ', ' .. layout, function()
          local q, k, v = H.tensor(c.q), H.tensor(c.k), H.tensor(c.v)
          if layout == 'non-contiguous' then q, k, v = H.noncontig(q), H.noncontig(k), H.noncontig(v) end
          q:requires_grad_(); k:requires_grad_(); v:requires_grad_()
          local out = F.scaled_dot_product_attention(q, k, v, opts_of(c.opts))
          H.assert_close(out, c.out, TOL)
          out:backward(H.tensor(c.g))
          H.assert_close(q.grad, c.gq, TOL)
          H.assert_close(k.grad, c.gk, TOL)
          H.assert_close(v.grad, c.gv, TOL)
        end)
      end
    end

    it('takes positional arguments', function()
      local c = fx.sdpa[4]
      local q, k, v, m = H.tensor(c.q), H.tensor(c.k), H.tensor(c.v), H.tensor(c.opts.attn_mask)
      H.assert_close(F.scaled_dot_product_attention(q, k, v, m, 0.0, false), c.out, TOL)
    end)

    it('gives zeros (not NaN) for a query whose keys are all masked, with finite gradients', function()
      local q = torch.randn(2, 3, 4):requires_grad_()
      local k, v = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
      local m = torch.ones(3, 5, { dtype = 'bool' })
      m[2]:fill_(false)
      local out = F.scaled_dot_product_attention(q, k, v, { attn_mask = m })
      H.assert_close(out:select(2, 2), torch.zeros(2, 4))
      assert.is_false(out:isnan():any():item())
      out:sum():backward()
      assert.is_false(q.grad:isnan():any():item())
      H.assert_close(q.grad:select(2, 2), torch.zeros(2, 4))
    end)

    it('dropout_p applies (even outside a module) and dropout_p=1 is refused', function()
      torch.manual_seed(1)
      local q, k, v = torch.randn(1, 64, 4), torch.randn(1, 64, 4), torch.ones(1, 64, 1)
      local a = F.scaled_dot_product_attention(q, k, v)
      H.assert_close(a, torch.ones(1, 64, 1))
      local d = F.scaled_dot_product_attention(q, k, v, { dropout_p = 0.5 })
      assert.is_true((d - 1):abs():max():item() > 1e-3)
      H.assert_error(function() F.scaled_dot_product_attention(q, k, v, { dropout_p = 1 }) end,
        'scaled_dot_product_attention: dropout_p must be in [0, 1), got 1')
    end)

    it('gradcheck in float64 (bool mask, float mask, causal)', function()
      local function dd(...) return torch.randn(...):double():requires_grad_(true) end
      local bm = torch.tensor({ { true, false, true }, { true, true, false } })
      local fm = torch.randn(2, 2, 3):double()
      for _, o in ipairs { {}, { attn_mask = bm }, { attn_mask = fm }, { is_causal = true }, { scale = 0.7 } } do
        local f = function(q, k, v) return F.scaled_dot_product_attention(q, k, v, o) end
        assert.is_true(torch.autograd.gradcheck(f, { dd(2, 2, 4), dd(2, 3, 4), dd(2, 3, 2) }, { atol = 1e-6, rtol = 1e-4 }))
      end
    end)

    it('errors', function()
      local q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
      local sdpa = F.scaled_dot_product_attention
      H.assert_error(function() sdpa(q, torch.randn(2, 5, 3), v) end,
        'scaled_dot_product_attention: query and key must have the same embedding size (last dim), got query 2x3x4 and key 2x5x3')
      H.assert_error(function() sdpa(q, k, torch.randn(2, 4, 6)) end,
        'scaled_dot_product_attention: key and value must have the same sequence length (dim -2), got key 2x5x4 and value 2x4x6')
      H.assert_error(function() sdpa(q, torch.randn(3, 5, 4), torch.randn(3, 5, 6)) end,
        'scaled_dot_product_attention: the batch dims of query, key and value do not broadcast: 2x3x4, 3x5x4 and 3x5x6')
      H.assert_error(function() sdpa(torch.randn(4), k, v) end,
        'scaled_dot_product_attention: expected query, key and value with at least 2 dims (..., L, E), got 4, 2x5x4 and 2x5x6')
      H.assert_error(function() sdpa(q, k:double(), v) end,
        'scaled_dot_product_attention: expected query, key and value to have the same dtype, got float32, float64 and float32')
      H.assert_error(function() sdpa(q, k, v, { attn_mask = torch.zeros(3, 4) }) end,
        'scaled_dot_product_attention: attn_mask of size 3x4 does not broadcast to the attention scores (..., L, S) of size 2x3x5')
      H.assert_error(function() sdpa(q, k, v, { attn_mask = torch.zeros(3, 5, { dtype = 'int64' }) }) end,
        'scaled_dot_product_attention: attn_mask must be bool or have the dtype of query (float32), got int64')
      H.assert_error(function() sdpa(q, k, v, { attn_mask = torch.zeros(3, 5), is_causal = true }) end,
        'scaled_dot_product_attention: is_causal=true cannot be combined with an explicit attn_mask')
      H.assert_error(function() sdpa(q, k, v, { dropout = 0.1 }) end,
        'scaled_dot_product_attention: unknown option \'dropout\'')
      H.assert_error(function() sdpa(q:long(), k, v) end,
        'scaled_dot_product_attention: expected query to be a floating point tensor, got int64')
      H.assert_error(function() sdpa(q, nil, v) end,
        'scaled_dot_product_attention: expected key to be a tensor, got nil')
    end)
  end)

  describe('modules against PyTorch (state_dict loaded, eval mode)', function()
    for i, c in ipairs(fx.modules) do
      for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
        it(('%d %s: %s, %s'):format(i, c.ctor, c.name, layout), function()
          local m = build(c.ctor, c.args)
          if c.lua_activation then m.activation = F[c.lua_activation] end
          local sd = {}
          for k, v in pairs(c.state) do sd[k] = H.tensor(v) end
          local r = m:load_state_dict(sd)
          assert.equal(0, #r.missing_keys)
          assert.equal(count(c.state), count(m:state_dict()))
          m:eval()
          local xs = {}
          for j, x in ipairs(c.inputs) do
            local t = H.tensor(x)
            if layout == 'non-contiguous' then t = H.noncontig(t) end
            xs[j] = t:requires_grad_()
          end
          local args = {}
          local n = #c.inputs + #c.same
          local k = 0
          local same = {}
          for _, s in ipairs(c.same) do same[s] = true end
          for j = 1, n do
            if same[j] then
              args[j] = xs[1]
            else
              k = k + 1
              args[j] = xs[k]
            end
          end
          args[n + 1] = opts_of(c.opts)
          local out, w = m(table.unpack(args, 1, n + 1))
          H.assert_close(out, c.out, TOL)
          local loss = (out * H.tensor(c.g)):sum()
          if c.w then
            H.assert_close(w, c.w, TOL)
            loss = loss + (w * H.tensor(c.gw)):sum()
          else
            assert.is_nil(w)
          end
          loss:backward()
          for j, x in ipairs(xs) do H.assert_close(x.grad, c.gin[j], TOL) end
          local seen = 0
          for name, p in m:named_parameters() do
            assert(c.gparams[name], 'no PyTorch gradient for ' .. name)
            local ok, err = pcall(H.assert_close, p.grad, c.gparams[name], TOL)
            assert(ok, name .. ': ' .. tostring(err))
            seen = seen + 1
          end
          assert.equal(count(c.gparams), seen)
        end)
      end
    end
  end)

  describe('MultiheadAttention', function()
    it('parameters, shapes, initialisation and printing', function()
      local m = nn.MultiheadAttention(8, 2)
      local names = {}
      for n, p in m:named_parameters() do names[#names + 1] = n .. ':' .. table.concat(p:size(), 'x') end
      assert.same({ 'in_proj_weight:24x8', 'in_proj_bias:24', 'out_proj.weight:8x8', 'out_proj.bias:8' }, names)
      assert.equal(0, m.in_proj_bias:abs():sum():item())
      assert.equal(0, m.out_proj.bias:abs():sum():item())
      local bound = math.sqrt(6 / (8 + 24))
      assert.is_true(m.in_proj_weight:abs():max():item() <= bound)
      assert.is_true(torch.isTypeOf(m.out_proj, nn.Linear))
      assert.equal('MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, ' ..
        'out_features=8, bias=true)\n)', tostring(m))
      local s = nn.MultiheadAttention(6, 3, { kdim = 4, vdim = 5, add_bias_kv = true, bias = false })
      names = {}
      for n, p in s:named_parameters() do names[#names + 1] = n .. ':' .. table.concat(p:size(), 'x') end
      assert.same({ 'q_proj_weight:6x6', 'k_proj_weight:6x4', 'v_proj_weight:6x5', 'bias_k:1x1x6', 'bias_v:1x1x6',
        'out_proj.weight:6x6' }, names)
      assert.equal(2, s.head_dim)
      assert.is_false(s._qkv_same_embed_dim)
    end)

    it('gradcheck in float64 (masks, add_bias_kv, add_zero_attn, need_weights)', function()
      local m = nn.MultiheadAttention(4, 2, { add_bias_kv = true, add_zero_attn = true }):double()
      torch.no_grad(function()
        for _, p in ipairs(m:parameters()) do p:copy_(torch.randn(p:size()):double() * 0.5) end
      end)
      local am = torch.tensor({ { false, true }, { false, false }, { true, false } })
      local kpm = torch.tensor({ { false, false }, { false, true } })
      local q = torch.randn(3, 2, 4):double():requires_grad_()
      local k = torch.randn(2, 2, 4):double():requires_grad_()
      local v = torch.randn(2, 2, 4):double():requires_grad_()
      local wi, bi, wo = m.in_proj_weight, m.in_proj_bias, m.out_proj.weight
      local f = function(q_, k_, v_, wi_, bi_, wo_)
        local out, w = F.multi_head_attention_forward(q_, k_, v_, 4, 2, wi_, bi_, m.bias_k, m.bias_v, true, 0.0, wo_,
          m.out_proj.bias, { attn_mask = am, key_padding_mask = kpm })
        return out, w
      end
      assert.is_true(torch.autograd.gradcheck(f, { q, k, v, wi, bi, wo }, { atol = 1e-6, rtol = 1e-4 }))
      local g = function(q_, k_, v_)
        return (m(q_, k_, v_, { attn_mask = am:double() * -3, need_weights = false }))
      end
      assert.is_true(torch.autograd.gradcheck(g, { q, k, v }, { atol = 1e-6, rtol = 1e-4 }))
    end)

    it('dropout acts in training mode only', function()
      torch.manual_seed(3)
      local m = nn.MultiheadAttention(8, 2, { dropout = 0.5 })
      local x = torch.randn(6, 2, 8)
      local _, w1 = m(x, x, x, { average_attn_weights = false })
      local zeros = w1:eq(0):sum():item()
      assert.is_true(zeros > 0)
      m:eval()
      local o2, w2 = m(x, x, x)
      local o3 = m(x, x, x)
      H.assert_close(o2, o3)
      assert.equal(0, w2:eq(0):sum():item())
    end)

    it('errors name the layer', function()
      local m = nn.MultiheadAttention(8, 2)
      local x = torch.randn(4, 2, 8)
      H.assert_error(function() nn.MultiheadAttention(10, 3) end,
        'MultiheadAttention: embed_dim (10) must be divisible by num_heads (3)')
      H.assert_error(function() nn.MultiheadAttention(8, 2, { dropout = 2 }) end,
        'MultiheadAttention: dropout probability has to be between 0 and 1, but got 2')
      H.assert_error(function() nn.MultiheadAttention(8, 2, { heads = 2 }) end,
        'MultiheadAttention: unknown option \'heads\'')
      H.assert_error(function() m(torch.randn(2, 4, 2, 8), x, x) end,
        'MultiheadAttention: expected query to be 2-D (unbatched) or 3-D (batched), got 4-D (2x4x2x8)')
      H.assert_error(function() m(x, torch.randn(4, 8), x) end,
        'MultiheadAttention: for a batched query (3-D), expected 3-D key and value, got key 4x8 and value 4x2x8')
      H.assert_error(function() m(torch.randn(4, 2, 6), x, x) end,
        'MultiheadAttention: expected query with embed_dim=8 features (last dim), got 6 (query 4x2x6)')
      H.assert_error(function() m(x, torch.randn(4, 2, 6), x) end,
        'MultiheadAttention: expected key with 8 features and value with 8 features (last dim), got key 4x2x6 and value 4x2x8')
      H.assert_error(function() m(x, torch.randn(5, 2, 8), x) end,
        'MultiheadAttention: key and value must have the same sequence length, got key 5x2x8 and value 4x2x8')
      H.assert_error(function() m(x, torch.randn(4, 3, 8), torch.randn(4, 3, 8)) end,
        'MultiheadAttention: query, key and value must have the same batch size, got query 4x2x8, key 4x3x8 and value 4x3x8')
      H.assert_error(function() m(x, x, x, { attn_mask = torch.zeros(4, 5) }) end,
        'MultiheadAttention: the shape of the 2-D attn_mask is 4x5, but should be (4, 4)')
      H.assert_error(function() m(x, x, x, { attn_mask = torch.zeros(2, 4, 4) }) end,
        'MultiheadAttention: the shape of the 3-D attn_mask is 2x4x4, but should be (4, 4, 4)')
      H.assert_error(function() m(x, x, x, { attn_mask = torch.zeros(4) }) end,
        'MultiheadAttention: expected attn_mask to be 2-D (L, S) or 3-D (N*num_heads, L, S), got 1-D (4)')
      H.assert_error(function() m(x, x, x, { key_padding_mask = torch.zeros(4, 2, { dtype = 'bool' }) }) end,
        'MultiheadAttention: expected key_padding_mask of size (2, 4), got 4x2')
      H.assert_error(function() m(x, x, x, { key_padding_mask = torch.zeros(2) }) end,
        'MultiheadAttention: for a batched query, expected key_padding_mask to be 2-D, got 2')
      H.assert_error(function() m(x, x, x, { attn_mask = torch.zeros(4, 4, { dtype = 'int64' }) }) end,
        'MultiheadAttention: only bool and floating point attn_mask are supported, got int64')
      H.assert_error(function() m(x, x, x, { key_padding_mask = torch.zeros(2, 4, { dtype = 'int32' }) }) end,
        'MultiheadAttention: only bool and floating point key_padding_mask are supported, got int32')
      H.assert_error(function() m(x, x, x, { is_causal = true }) end,
        'MultiheadAttention: is_causal=true needs attn_mask')
      H.assert_error(function() m(x, x, 3) end, 'MultiheadAttention: expected value to be a tensor, got number')
      local s = nn.MultiheadAttention(8, 2, { kdim = 3, vdim = 5 })
      H.assert_error(function() s(x, torch.randn(4, 2, 5), torch.randn(4, 2, 5)) end,
        'MultiheadAttention: expected key with 3 features and value with 5 features (last dim), got key 4x2x5 and value 4x2x5')
    end)
  end)

  describe('transformer layers', function()
    it('state_dict names follow PyTorch (1-based layer numbers)', function()
      local t = nn.Transformer({ d_model = 8, nhead = 2, num_encoder_layers = 2, num_decoder_layers = 1,
        dim_feedforward = 16 })
      local sd = t:state_dict()
      local keys = getmetatable(sd).keys
      assert.equal('encoder.layers.1.self_attn.in_proj_weight', keys[1])
      assert.is_not_nil(sd['encoder.layers.2.norm2.bias'])
      assert.is_not_nil(sd['encoder.norm.weight'])
      assert.is_not_nil(sd['decoder.layers.1.multihead_attn.out_proj.weight'])
      assert.is_not_nil(sd['decoder.layers.1.norm3.weight'])
      assert.is_not_nil(sd['decoder.norm.bias'])
      assert.equal(12 * 2 + 2 + 18 + 2, #keys)
      -- xavier_uniform_ on every matrix: the LayerNorm weights stay ones
      H.assert_close(sd['encoder.norm.weight'], torch.ones(8))
      local lim = math.sqrt(6 / (16 + 8))
      assert.is_true(sd['encoder.layers.1.linear1.weight']:abs():max():item() <= lim)
    end)

    it('bias=false leaves out every bias (LayerNorm weights stay)', function()
      local l = nn.TransformerEncoderLayer(8, 2, { dim_feedforward = 16, bias = false })
      local names = {}
      for n in l:named_parameters() do names[#names + 1] = n end
      assert.same({ 'self_attn.in_proj_weight', 'self_attn.out_proj.weight', 'linear1.weight', 'linear2.weight',
        'norm1.weight', 'norm2.weight' }, names)
      local y = l:eval()(torch.randn(3, 2, 8))
      assert.same({ 3, 2, 8 }, y:size())
    end)

    it('TransformerEncoder layers are independent deep copies', function()
      local layer = nn.TransformerEncoderLayer(8, 2, { dim_feedforward = 16 })
      local enc = nn.TransformerEncoder(layer, 3)
      assert.equal(3, #enc.layers)
      assert.is_nil(enc.norm)
      local p1, p2 = enc.layers[1].linear1.weight, enc.layers[2].linear1.weight
      H.assert_close(p1, layer.linear1.weight)
      H.assert_close(p2, layer.linear1.weight)
      assert.is_false(rawequal(p1, p2))
      assert.is_true(nn.is_parameter(p1) and p1.requires_grad)
      torch.no_grad(function() p1:fill_(0) end)
      assert.is_true(p2:abs():sum():item() > 0)
      assert.is_true(layer.linear1.weight:abs():sum():item() > 0)
      assert.equal(3 * 12, #enc:parameters())
    end)

    it('Module:clone deep-copies parameters and buffers, keeps sharing inside the copy', function()
      local lin = nn.Linear(3, 3)
      local net = nn.Sequential(lin, nn.BatchNorm1d(3), lin)
      local c = net:clone()
      assert.equal('nn.Sequential', torch.type(c))
      assert.is_false(rawequal(c[1], lin))
      assert.is_true(rawequal(c[1], c[3]))
      assert.is_false(rawequal(c[2].running_mean, net[2].running_mean))
      H.assert_close(c[1].weight, lin.weight)
      assert.is_true(nn.is_parameter(c[1].weight))
      assert.equal(#net:parameters(), #c:parameters())
      local x = torch.randn(4, 3)
      H.assert_close(c:eval()(x), net:eval()(x))
    end)

    it('generate_square_subsequent_mask', function()
      local m = nn.Transformer.generate_square_subsequent_mask(4)
      H.assert_close(m, fx.square_mask)
      assert.equal('float64', nn.Transformer.generate_square_subsequent_mask(2, { dtype = 'float64' }).dtype)
      local t = nn.Transformer({ d_model = 4, nhead = 1, num_encoder_layers = 1, num_decoder_layers = 1,
        dim_feedforward = 4 })
      H.assert_close(t:generate_square_subsequent_mask(4), fx.square_mask)
    end)

    it('dropout acts in training mode', function()
      torch.manual_seed(5)
      local l = nn.TransformerEncoderLayer(8, 2, { dim_feedforward = 16, dropout = 0.5 })
      local x = torch.randn(5, 2, 8)
      local a, b = l(x), l(x)
      assert.is_true((a - b):abs():max():item() > 1e-4)
      l:eval()
      H.assert_close(l(x), l(x))
    end)

    it('errors name the layer', function()
      H.assert_error(function() nn.TransformerEncoderLayer(10, 3) end,
        'TransformerEncoderLayer: d_model (10) must be divisible by nhead (3)')
      H.assert_error(function() nn.TransformerEncoderLayer(8, 2, { activation = 'tanh' }) end,
        'TransformerEncoderLayer: activation should be relu/gelu, not tanh')
      H.assert_error(function() nn.TransformerDecoderLayer(8, 2, { dropout = -1 }) end,
        'TransformerDecoderLayer: dropout probability has to be between 0 and 1, but got -1')
      local l = nn.TransformerEncoderLayer(8, 2, { dim_feedforward = 16 })
      H.assert_error(function() l(torch.randn(5, 2, 6)) end,
        'TransformerEncoderLayer: expected src of size (S, N, 8) (batched) or (S, 8) (unbatched), got 5x2x6')
      local lb = nn.TransformerEncoderLayer(8, 2, { dim_feedforward = 16, batch_first = true })
      H.assert_error(function() lb(torch.randn(5)) end,
        'TransformerEncoderLayer: expected src of size (N, S, 8) (batched) or (S, 8) (unbatched), got 5')
      H.assert_error(function() l(torch.randn(5, 2, 8), { src_mask = torch.zeros(4, 4) }) end,
        'MultiheadAttention: the shape of the 2-D attn_mask is 4x4, but should be (5, 5)')
      local d = nn.TransformerDecoderLayer(8, 2, { dim_feedforward = 16 })
      H.assert_error(function() d(torch.randn(4, 2, 8), torch.randn(6, 8)) end,
        'TransformerDecoderLayer: tgt and memory must both be batched (3-D) or both unbatched (2-D), got tgt 4x2x8 and memory 6x8')
      H.assert_error(function() d(torch.randn(4, 2, 8), torch.randn(6, 2, 4)) end,
        'TransformerDecoderLayer: expected memory of size (S, N, 8) (batched) or (S, 8) (unbatched), got 6x2x4')
      H.assert_error(function() nn.TransformerEncoder(l, 1.5) end,
        'TransformerEncoder: num_layers must be an integer >= 0, got 1.5')
      H.assert_error(function() nn.TransformerEncoder(3, 2) end, 'TransformerEncoder: expected a layer module, got number')
      H.assert_error(function() nn.TransformerEncoder(l, 2, { norm = 3 }) end,
        'TransformerEncoder: norm must be a module or nil, got number')
      local t = nn.Transformer({ d_model = 8, nhead = 2, num_encoder_layers = 1, num_decoder_layers = 1,
        dim_feedforward = 16 })
      H.assert_error(function() t(torch.randn(5, 2, 8), torch.randn(4, 3, 8)) end,
        'Transformer: the batch number of src and tgt must be equal, got src 5x2x8 and tgt 4x3x8')
      H.assert_error(function() t(torch.randn(5, 2, 8), torch.randn(4, 2, 6)) end,
        'Transformer: the feature number of src and tgt must be equal to d_model (8), got src 5x2x8 and tgt 4x2x6')
      H.assert_error(function() t(torch.randn(5, 2, 8), torch.randn(4, 8)) end,
        'Transformer: expected src and tgt both 3-D (batched) or both 2-D (unbatched), got src 5x2x8 and tgt 4x8')
      H.assert_error(function() nn.Transformer.generate_square_subsequent_mask(-1) end,
        'generate_square_subsequent_mask: sz must be an integer >= 0, got -1')
    end)
  end)
end)
