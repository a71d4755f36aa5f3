// The seed chapter's cells In[2]–In[8] in C++: the same two-layer model built with Sequential
// and with the functional API, compiled with RMSprop(lr=0.001), mse and accuracy, and fitted.
#include <cstdio>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

int main() {
  manual_seed(0);
  // In[2]: a dense layer with 32 output units that accepts 784-wide inputs.
  nn::Dense layer(32, {.input_shape = {784}});
  std::printf("In[3]: %s '%s'\n", layer->type().c_str(), layer->name().c_str());

  // In[4]: the second layer infers its input shape from the first.
  nn::Sequential stacked;
  stacked.add(nn::Dense(32, {.input_shape = {784}}));
  stacked.add(nn::Dense(32));

  // In[5]: a two-layer model with Sequential.
  nn::Sequential model;
  model.add(nn::Dense(32, {.activation = "relu", .input_shape = {784}}));
  model.add(nn::Dense(10, {.activation = "softmax"}));
  model.summary();

  // In[6]: the same model with the functional API.
  nn::Symbol input_tensor = nn::Input({784});
  nn::Symbol x = nn::Dense(32, {.activation = "relu"})(input_tensor);
  nn::Symbol output_tensor = nn::Dense(10, {.activation = "softmax"})(x);
  nn::Model functional(input_tensor, output_tensor);
  functional.summary();

  // In[7]: optimizer, loss and the metrics to monitor.
  functional.compile({.optimizer = optim::RMSprop({.learning_rate = 0.001}),
                      .loss = "mse",
                      .metrics = {"accuracy"}});

  // In[8]: fit on input and target tensors (here a generated task: the class is which of
  // ten blocks of the 784 inputs has the largest sum).
  Tensor inputs = rand({2048, 784});
  Tensor blocks = sum(inputs.slice(1, 0, 780).reshape({2048, 10, 78}), {2});
  Tensor targets = nn::to_categorical(argmax(blocks, 1), 10);
  nn::History h = functional.fit(inputs, targets, {.batch_size = 128, .epochs = 10, .verbose = 2});
  std::printf("accuracy went from %.3f to %.3f\n", h["accuracy"].front(), h["accuracy"].back());
  return h["accuracy"].back() > h["accuracy"].front() ? 0 : 1;
}
