-- optim: PyTorch's optimizers (optim.SGD(params, {lr=...}), ...), the learning-rate
-- schedulers (optim.lr_scheduler) and Torch7's functional optimizers
-- (optim.sgd(feval, x, config, state), ...). Each part lives in lua/optim/<part>.lua
-- and adds its entries to this table; parts not present yet are skipped.
local optim = {}
package.loaded['optim'] = optim -- before the parts load: they require 'optim'

local PARTS = {
  'optimizer', -- the Optimizer base class: parameter groups, state, state_dict
  'sgd', 'adam', 'adagrad', 'adadelta', 'rmsprop', 'rprop', 'asgd', 'lbfgs',
  'lr_scheduler', -- optim.lr_scheduler
  'functional', -- Torch7's optim.sgd, optim.adam, ... over flat tensors
}
for _, part in ipairs(PARTS) do
  local name = 'optim.' .. part
  if package.searchpath(name, package.path) then require(name) end
end
return optim
